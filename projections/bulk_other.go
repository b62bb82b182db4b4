//go:build !linux

package projections

// mapRegion takes n bytes from the Go heap: the regions of a bulk are
// mapped outside it only on Linux.
func mapRegion(n int) (m []byte, mapped bool) { return make([]byte, n), false }

func unmapRegion([]byte) {}
