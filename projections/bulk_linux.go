package projections

import "golang.org/x/sys/unix"

// mapRegion maps n bytes of zeroed memory outside the Go heap; where
// mapping is refused, it takes them from the heap (mapped false).
//
// The regions take the pages the system gives by default; they used to
// ask for transparent huge pages (MADV_HUGEPAGE). A rebuild touches every
// page of its bulks once, and in a VM most of what a page costs the
// first time is the host's, which is not the same on every machine. On
// a Turin-like VM, 512 MB took 0.70–0.89 s to touch on huge pages and
// 1.41–1.58 s on 4 KiB ones. On an EPYC VM, 1.1 s on huge pages and 0.2
// s on 4 KiB ones: a huge page needs 2 MiB free in one piece, which the
// guest had handed back to the host, while 4 KiB pages came from memory
// freed and not yet handed back. There, `projections rebuild` of a
// million events ran at 617,000 events/s in a fresh process on 4 KiB
// pages against 524,000 on huge ones, and the benchmark as fast
// (docs/BENCHMARKS.md, ninth session). Where huge pages are always on,
// the regions get them all the same.
func mapRegion(n int) (m []byte, mapped bool) {
	if bulkOnHeap {
		return make([]byte, n), false
	}
	m, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return make([]byte, n), false
	}
	return m, true
}

// unmapRegion lets go of a region mapRegion mapped.
func unmapRegion(m []byte) { _ = unix.Munmap(m) }
