package projections

import (
	"sync"
	"unsafe"
)

// bulk is memory of a rebuild's that lives and dies all together: a
// batch's Put logs, their chunks and their sorted orders, let go of after
// the commit; a generation of a Writer's cache, its keys, values and
// entries, let go of when the generation is dropped. Hundreds of
// megabytes go to them, with nothing in them that the garbage collector
// must see. So they are not taken from the Go heap but from large regions
// mapped for them and unmapped after (or, for a cache's generations,
// handed out again: see reset). Moved out of the heap, a rebuild of a
// million events took a sixth less time (docs/BENCHMARKS.md). On which
// pages they are, see mapRegion.
//
// A nil *bulk allocates from the Go heap: the Runner's and CatchUp's
// Writers use it. A bulk is safe for concurrent use: the appliers and
// the sorter allocate from it.
type bulk struct {
	mu         sync.Mutex
	mapped     [][]byte // the regions to unmap
	spare      [][]byte // mapped regions that reset took back, to hand out again
	free       []byte   // the rest of the last region
	freeMapped bool     // whether that region was mapped
	reused     bool     // whether that region was handed out before a reset: not zeroed
	held       int      // bytes handed out
	region     int      // the size of the last region
}

// bulkRegion is the most memory a bulk maps at a time. Its first region
// is bulkFirstRegion, and each is twice the one before: a light
// projection's cache generation takes a few kilobytes.
const (
	bulkRegion      = 64 << 20
	bulkFirstRegion = 4 << 20
)

// bulkOnHeap has bulks take their memory from the heap, as where mapping
// is refused (a variable for tests).
var bulkOnHeap = false

// bytes returns n bytes, zeroed, valid until release.
func (b *bulk) bytes(n int) []byte {
	m, _ := b.take(n)
	return m
}

// take returns n bytes, zeroed, and whether they are outside the Go heap
// (in a region mapped, not one taken from the heap where mapping was
// refused, nor from a nil bulk).
func (b *bulk) take(n int) (m []byte, mapped bool) {
	if b == nil {
		return make([]byte, n), false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n = (n + 63) &^ 63 // keep every allocation aligned to a cache line
	if n > len(b.free) {
		b.newRegion(n)
	}
	out := b.free[:n:n]
	b.free = b.free[n:]
	b.held += n
	if b.reused {
		clear(out)
	}
	return out, b.freeMapped
}

// newRegion makes the free memory a region of at least n bytes: a spare
// one if one is as large, else one newly mapped.
func (b *bulk) newRegion(n int) {
	for i, r := range b.spare {
		if len(r) >= n {
			b.spare = append(b.spare[:i], b.spare[i+1:]...)
			b.mapped = append(b.mapped, r)
			b.free, b.freeMapped, b.reused = r, true, true
			return
		}
	}
	b.region = min(max(2*b.region, bulkFirstRegion), bulkRegion)
	r, ok := mapRegion(max(n, b.region))
	if ok {
		b.mapped = append(b.mapped, r)
	}
	b.free, b.freeMapped, b.reused = r, ok, false
}

// puts returns an empty log of capacity n.
func (b *bulk) puts(n int) []loggedPut {
	if b == nil {
		return make([]loggedPut, 0, n)
	}
	m := b.bytes(n * int(unsafe.Sizeof(loggedPut{})))
	return unsafe.Slice((*loggedPut)(unsafe.Pointer(unsafe.SliceData(m))), n)[:0]
}

// cacheEntries returns an empty slice of n cache entries. In a mapped
// region their pointers are not seen by the garbage collector, so they
// must point into bulks; where the bulk's memory comes from the heap
// (mapping refused), the entries are allocated apart, where the
// collector sees what they point to.
func (b *bulk) cacheEntries(n int) []cached {
	m, mapped := b.take(n * int(unsafe.Sizeof(cached{})))
	if !mapped {
		return make([]cached, 0, n)
	}
	return unsafe.Slice((*cached)(unsafe.Pointer(unsafe.SliceData(m))), n)[:0]
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

// reset takes back everything the bulk handed out, as release does, but
// keeps its mapped regions to hand out again: a Writer's cache drops a
// generation to make room for the next, about as large, which then takes
// pages the process has already rather than new ones from the kernel
// (in a VM, from the host as well). Nothing may use what it handed out
// any more.
func (b *bulk) reset() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.spare = append(b.spare, b.mapped...)
	b.mapped, b.free, b.freeMapped, b.reused, b.held = nil, nil, false, false, 0
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
	for _, r := range b.spare {
		unmapRegion(r)
	}
	b.mapped, b.spare, b.free, b.freeMapped, b.reused, b.held, b.region = nil, nil, nil, false, false, 0, 0
}
