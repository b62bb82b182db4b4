package projections

import (
	"sync"
	"unsafe"
)

// bulk is the memory of a rebuild's batch that lives exactly as long as
// the batch: its Put logs, their chunks and their sorted orders. Hundreds
// of megabytes go to them, written once and let go of all together
// after the commit, with nothing in them that the garbage collector must
// see. So they are not taken from the Go heap but from large regions
// mapped for the batch and unmapped after it. On Linux the regions ask
// for transparent huge pages (MADV_HUGEPAGE): a rebuild touches every
// page of them once, and the kernel then maps 2 MiB at a fault instead
// of 4 KiB. Measured side by side, a rebuild of a million events took a
// sixth less time (see docs/BENCHMARKS.md).
//
// A nil *bulk allocates from the Go heap: the Runner's and CatchUp's
// Writers use it. A bulk is safe for concurrent use: the appliers and
// the sorter allocate from it.
type bulk struct {
	mu     sync.Mutex
	mapped [][]byte // the regions to unmap
	free   []byte   // the rest of the last region
	held   int      // bytes handed out
}

// bulkRegion is how much memory a bulk maps at a time.
const bulkRegion = 64 << 20

// bytes returns n bytes, zeroed, valid until release.
func (b *bulk) bytes(n int) []byte {
	if b == nil {
		return make([]byte, n)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n = (n + 63) &^ 63 // keep every allocation aligned to a cache line
	if n > len(b.free) {
		r, mapped := mapRegion(max(n, bulkRegion))
		if mapped {
			b.mapped = append(b.mapped, r)
		}
		b.free = r
	}
	out := b.free[:n:n]
	b.free = b.free[n:]
	b.held += n
	return out
}

// puts returns an empty log of capacity n.
func (b *bulk) puts(n int) []loggedPut {
	if b == nil {
		return make([]loggedPut, 0, n)
	}
	m := b.bytes(n * int(unsafe.Sizeof(loggedPut{})))
	return unsafe.Slice((*loggedPut)(unsafe.Pointer(unsafe.SliceData(m))), n)[:0]
}

// bytesHeld is how much the bulk has handed out.
func (b *bulk) bytesHeld() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// release unmaps the bulk's memory: nothing may use what it handed out
// any more.
func (b *bulk) release() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.mapped {
		unmapRegion(r)
	}
	b.mapped, b.free, b.held = nil, nil, 0
}
