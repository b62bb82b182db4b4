// Package cmem tunes the C allocator behind pebble's block caches.
//
// With cgo, pebble allocates its cache blocks and read buffers with C's
// malloc. glibc serves a request of more than 128 KiB with a mapping of
// its own and unmaps it when freed, so a scan of the whole log (a
// rebuild, a catch-up) takes fresh pages from the kernel again and
// again. Fresh pages are slow to get, the more so in a VM that hands the
// memory its guest frees back to the host. Tune raises that threshold so
// that such buffers come from malloc's heap and serve again: the first
// rebuild of a million events in a process went from 390,000 to 448,000
// events/s (medians of five, alternated; see docs/BENCHMARKS.md).
package cmem

import "sync"

// mmapThreshold is the size from which malloc maps an allocation apart.
const mmapThreshold = 4 << 20

var once sync.Once

// Tune sets the C allocator's options, once per process; it does
// nothing without cgo, or with a C library other than glibc.
func Tune() { once.Do(tune) }
