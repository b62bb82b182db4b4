package projections

import "golang.org/x/sys/unix"

// mapRegion maps n bytes of zeroed memory outside the Go heap, asking for
// huge pages; where mapping is refused, it takes them from the heap
// (mapped false).
func mapRegion(n int) (m []byte, mapped bool) {
	if bulkOnHeap {
		return make([]byte, n), false
	}
	m, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return make([]byte, n), false
	}
	_ = unix.Madvise(m, unix.MADV_HUGEPAGE) // advice: where huge pages are off, it changes nothing
	return m, true
}

// unmapRegion lets go of a region mapRegion mapped.
func unmapRegion(m []byte) { _ = unix.Munmap(m) }
