package projections

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"unsafe"
)

// A bulk hands out zeroed, disjoint, cache-line-aligned memory, from
// regions as large as asked when asked more than one, counts it, and
// lets go of it all at once; a nil bulk allocates from the heap.
func TestBulk(t *testing.T) {
	b := new(bulk)
	defer b.release()
	var got [][]byte
	for _, n := range []int{1, 100, 64, bulkRegion / 2, bulkRegion/2 + 1, bulkRegion + 5, 7} {
		m := b.bytes(n)
		if len(m) < n || uintptr(unsafe.Pointer(unsafe.SliceData(m)))%64 != 0 {
			t.Fatalf("bytes(%d): %d bytes at %p", n, len(m), unsafe.SliceData(m))
		}
		if !bytes.Equal(m, make([]byte, len(m))) {
			t.Fatalf("bytes(%d) is not zeroed", n)
		}
		for i := range m {
			m[i] = byte(len(got) + 1)
		}
		got = append(got, m)
	}
	for i, m := range got { // nothing written later overlapped it
		if bytes.Count(m, []byte{byte(i + 1)}) != len(m) {
			t.Fatalf("allocation %d was overwritten", i)
		}
	}
	if held := b.bytesHeld(); held < 2*bulkRegion {
		t.Fatalf("bulk holds %d bytes, want at least %d", held, 2*bulkRegion)
	}
	l := b.puts(1000)
	if len(l) != 0 || cap(l) != 1000 {
		t.Fatalf("puts(1000): len %d, cap %d", len(l), cap(l))
	}
	b.release()
	if b.bytesHeld() != 0 || len(b.mapped) != 0 || b.free != nil {
		t.Fatalf("released bulk holds %d bytes in %d regions", b.bytesHeld(), len(b.mapped))
	}

	var none *bulk
	if m := none.bytes(10); len(m) != 10 {
		t.Fatalf("nil bulk: bytes(10) gave %d bytes", len(m))
	}
	if l := none.puts(3); cap(l) != 3 || none.bytesHeld() != 0 {
		t.Fatalf("nil bulk: puts(3) gave cap %d", cap(l))
	}
	none.release()
}

// A log's chunks start small and double up to putChunk, so that a
// light projection's logs between seals take a few kilobytes; a record
// larger than that gets a chunk of its own.
func TestPutLogChunksGrow(t *testing.T) {
	b := new(bulk)
	defer b.release()
	p := putLog{mem: b}
	v := make([]byte, 1000)
	for range 4000 {
		p.add([]byte("key"), v)
	}
	want := putFirstChunk
	for i, c := range p.chunks {
		if i == len(p.chunks)-1 {
			if cap(c) > want {
				t.Fatalf("last chunk of %d bytes, want at most %d", cap(c), want)
			}
			break
		}
		if cap(c) != want {
			t.Fatalf("chunk %d of %d bytes, want %d", i, cap(c), want)
		}
		want = min(2*want, putChunk)
	}
	big := make([]byte, 3*putChunk)
	p.add([]byte("big"), big)
	if last := p.chunks[len(p.chunks)-1]; cap(last) < len(big) {
		t.Fatalf("a %d-byte record in a %d-byte chunk", len(big), cap(last))
	}
	if k, v := p.key(len(p.log)-1), p.value(len(p.log)-1); string(k) != "big" || len(v) != len(big) {
		t.Fatalf("the big record reads back as %q, %d bytes", k, len(v))
	}
}

// Where a bulk's memory comes from the heap (mapping refused), cache
// entries are allocated apart: in the bulk's plain bytes, the garbage
// collector would not see the pointers they hold. Mapped, they are in
// the bulk.
func TestBulkCacheEntriesStayVisibleOnTheHeap(t *testing.T) {
	for _, heap := range []bool{true, false} {
		if !heap && runtime.GOOS != "linux" {
			continue // regions are mapped only on Linux
		}
		bulkOnHeap = heap
		b := new(bulk)
		first := b.bytes(64)
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(first)))
		e := b.cacheEntries(16)
		at := uintptr(unsafe.Pointer(unsafe.SliceData(e[:1])))
		inside := at >= lo && at < lo+bulkRegion
		if cap(e) != 16 || inside == heap {
			t.Errorf("heap %v: entries inside the bulk's region: %v", heap, inside)
		}
		b.release()
	}
	bulkOnHeap = false
}

// After a reset, a bulk hands out its regions again, zeroed, before it
// maps more; release unmaps them all.
func TestBulkResetHandsRegionsOutAgain(t *testing.T) {
	if bulkOnHeap {
		t.Skip("bulks are on the heap")
	}
	b := new(bulk)
	defer b.release()
	first := b.bytes(bulkFirstRegion)
	for i := range first {
		first[i] = 0xff
	}
	second := b.bytes(100)
	if len(b.mapped) != 2 {
		t.Skipf("%d regions mapped, not 2: mapping refused?", len(b.mapped))
	}
	b.reset()
	if b.bytesHeld() != 0 || len(b.mapped) != 0 || len(b.spare) != 2 {
		t.Fatalf("after reset: %d bytes held, %d regions in use, %d spare", b.bytesHeld(), len(b.mapped), len(b.spare))
	}
	again := b.bytes(bulkFirstRegion)
	if unsafe.SliceData(again) != unsafe.SliceData(first) && unsafe.SliceData(again) != unsafe.SliceData(second) {
		t.Fatal("after reset, the bulk mapped a new region instead of handing out a spare one")
	}
	if !bytes.Equal(again, make([]byte, len(again))) {
		t.Fatal("memory handed out again is not zeroed")
	}
	if len(b.mapped)+len(b.spare) != 2 {
		t.Fatalf("%d regions in use and %d spare, want 2 in all", len(b.mapped), len(b.spare))
	}
	big := b.bytes(3 * bulkRegion) // larger than any spare region: mapped
	if len(big) != 3*bulkRegion || len(b.mapped)+len(b.spare) != 3 {
		t.Fatalf("a request larger than the spare regions: %d bytes, %d regions", len(big), len(b.mapped)+len(b.spare))
	}
	b.release()
	if len(b.mapped) != 0 || len(b.spare) != 0 {
		t.Fatalf("released bulk keeps %d regions and %d spare", len(b.mapped), len(b.spare))
	}
}

// A Writer's log sealed in a rebuild gives the next one a hint of its
// size: the next log's chunks hold about as many bytes, so that the Puts
// of a seal fill them instead of leaving doubling chunks partly empty;
// and the next log starts in the room the sealed one's last chunk left.
func TestSealedLogHintsTheNextOnesChunk(t *testing.T) {
	b := new(bulk)
	defer b.release()
	var w Writer
	w.useBulk(b)
	v := make([]byte, 100)
	put := func(n int) {
		for i := range n {
			w.begin(nil)
			w.Put(fmt.Appendf(nil, "key-%08d", i), v)
			w.accept()
		}
	}
	put(20000) // about 2.2 MB: chunks of 16 KiB doubling up to putChunk
	first := w.puts.bytes()
	w.seal(func(p *putLog) {})
	if len(w.sealedPuts) != 1 {
		t.Fatalf("%d logs sealed, want 1", len(w.sealedPuts))
	}
	if got := w.sealedPuts[0].bytes(); got != first {
		t.Fatalf("the sealed log holds %d bytes, want %d", got, first)
	}
	sealed := w.sealedPuts[0]
	last := sealed.chunks[len(sealed.chunks)-1]
	if cap(last) != len(last) {
		t.Fatalf("the sealed log's last chunk has room for %d bytes more", cap(last)-len(last))
	}
	put(20000)
	// The next log begins in the room the sealed one's last chunk left,
	// right after its records, and takes one chunk more, for the rest of
	// the hint.
	if len(w.puts.chunks) != 2 {
		t.Fatalf("the next log, as long, took %d chunks, want two (hint %d bytes)", len(w.puts.chunks), w.puts.hintBytes)
	}
	if unsafe.Pointer(unsafe.SliceData(w.puts.chunks[0])) != unsafe.Add(unsafe.Pointer(unsafe.SliceData(last)), len(last)) {
		t.Fatal("the next log's first chunk is not the room left after the sealed log's records")
	}
	if c := cap(w.puts.chunks[0]) + cap(w.puts.chunks[1]); c < first || c > first+first/4 {
		t.Fatalf("the next log's chunks have room for %d bytes, want about %d", c, first)
	}
	for i := range sealed.log { // the next log wrote past them, not over them
		if k := sealed.key(i); string(k) != fmt.Sprintf("key-%08d", i) || len(sealed.value(i)) != len(v) {
			t.Fatalf("the sealed log's record %d is %q (%d bytes of value)", i, k, len(sealed.value(i)))
		}
	}
}
