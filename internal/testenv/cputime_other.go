//go:build !unix

package testenv

import "time"

// CPUTime is 0 here: the benchmarks' events per CPU-second are measured
// on Unix systems only.
func CPUTime() time.Duration { return 0 }
