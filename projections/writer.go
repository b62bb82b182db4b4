package projections

import (
	"bytes"
	"cmp"
	"errors"
	"maps"
	"math/bits"
	"slices"
	"strings"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
)

// maxCached bounds a Writer's cache between commits. The cache has two
// generations: when the current one passes half of maxCached at a
// commit, it becomes the previous one, and the one before is dropped.
// What was used since stays cached: a Get found in the previous
// generation moves to the current one.
//
// A rebuild's activity projection has a Writer per core, each caching
// up to maxCached records. Pages new to a process are dear (in a VM,
// 1.5 ms per MB, the host's as well as the guest's), so a smaller cache
// pays in a fresh process: `projections rebuild` of a million events ran
// at a median of 504k–521k events/s with 1<<17 against 453k–503k with
// 1<<18, with as many lookups missing it (docs/BENCHMARKS.md).
var maxCached = 1 << 17 // a variable for tests

// Writer stages the writes of one event for a projection, and reads the
// model as they would leave it. Staging makes an event all-or-nothing: if
// Apply fails, its writes are dropped, while the earlier events of a
// rebuild batch stay.
//
// There are two kinds of record. Set and Delete write records that the
// projection reads back with Get (counters, open sessions, current
// annotations): they go through a write-through cache, so that reading
// them again costs no lookup, and a batch writes each only once. Put
// writes records that the projection never reads back (timeline entries,
// versions): they are only logged, and written sorted at commit. Get does
// not see a Put of an earlier event.
//
// A Writer is used by one goroutine.
type Writer struct {
	r     pebble.Reader // the committed model
	ops   []stagedOp    // this event's Sets and Deletes
	arena []byte
	// This event's Puts go straight into puts, from mark on: begin drops
	// them if the event before was not accepted.
	mark    putMark
	pending bool
	// got is the cache entries this event's Gets found or made, so that a
	// Set of the same key does not look it up again.
	got  [4]*cached
	nGot int

	// Accepted since the last commit: the logged Puts and the keys Set
	// or Deleted (dirty in cache), of the current generation of the cache
	// and of the one before; and in a rebuild, the logs sealed (see
	// seal), oldest first: Puts, and the records changed in generations
	// since dropped.
	puts       putLog
	spare      putLog // see takePuts
	dirty      []*cached
	dirtyPrev  []*cached
	sealedPuts []*putLog
	sealedSets []*putLog
	cache      map[string]*cached
	prev       map[string]*cached // the generation before: read only
	// slab holds the cache's keys, values and entries: a rebuild caches
	// a hundred thousand records and more per Writer, and allocating
	// each one apart cost more in garbage collection than the rest of
	// the cache. In a rebuild, the slabs and entries of the current
	// generation are in genMem, and those of the one before in
	// genMemPrev (see bulk), each given back with its generation;
	// nothing in them points to the heap.
	slab               []byte
	entries            []cached
	genMem, genMemPrev *bulk
	// held is about how much memory the slabs of the current generation
	// and of the one before hold.
	held, heldPrev int

	scratch []byte // see buf
	getKey  []byte // the key of a database lookup

	// written, when set, holds every key Set or Deleted since the
	// projection's records were cleared: a key not in it is absent.
	written   *absentFilter
	reserving bool // see reserve
	// mem, in a rebuild, is where the logs of the batch under way are
	// allocated (see bulk).
	mem *bulk
}

type stagedOp struct {
	kind           byte // 's' set, 'd' delete, 'p' put
	k0, k1, v0, v1 int  // key and value as offsets into arena
}

// putLog is the Puts accepted since a commit, in the order accepted.
// Their bytes are in chunks that never move: a rebuild logs a hundred
// megabytes or more, which one growing slice would copy again and again.
type putLog struct {
	log    []loggedPut
	chunks [][]byte // the last one is filled
	// sorted, if not nil, is closed once the log is sorted by another
	// goroutine.
	sorted chan struct{}
	// mem is where the log, its chunks and its sorted order are
	// allocated (nil: the Go heap); hint and hintBytes, how many entries
	// and how many bytes of records to make room for at first.
	mem             *bulk
	hint, hintBytes int
	hinted          bool // whether the chunk for the hint was made
	grown           int  // the size of the last chunk not made for the hint
}

// loggedPut is an entry of a putLog. A rebuild logs millions, held
// until its commit: at 16 bytes each, with no key prefix (sortingPut)
// kept past the sort, a rebuild of a million events held 98 MB less, in
// pages new to the process, than at 40 (docs/BENCHMARKS.md).
type loggedPut struct {
	c          int32 // the chunk
	k0, k1, v1 int32 // key and value as offsets into it; v1 < 0: deleted
}

// sortingPut is a loggedPut with its key's prefix, which sorting
// compares before it looks in the chunks.
type sortingPut struct {
	pre keyPrefix
	loggedPut
}

// sortScratch is memory to sort logs with, grown as needed, that serves
// log after log.
type sortScratch struct{ sorting, buckets []sortingPut }

// sizedScratch returns (*a)[:n], grown if needed.
func sizedScratch(a *[]sortingPut, n int) []sortingPut {
	if cap(*a) < n {
		*a = make([]sortingPut, n+n/4)
	}
	return (*a)[:n]
}

// putChunk is the size of a putLog's largest chunks. The first is
// smaller, and each is twice the one before: the Puts of a light
// projection between two seals take a few kilobytes. Unless the log
// has a hint of its bytes: then its first chunk is that large (up to
// putHintedChunk), the Puts of a seal about fill it, and the chunks
// after it start small again. Doubling chunks had left a quarter of a
// rebuild's chunk memory unused (67 of 251 MB), in pages touched all
// the same. A log that follows a sealed one starts in the room its last
// chunk left (see Writer.seal), which the hint counts.
const (
	putChunk       = 1 << 20
	putFirstChunk  = 16 << 10
	putHintedChunk = 16 << 20
)

func (p *putLog) add(k, v []byte) { p.addRecord(k, v, false) }

// addRecord logs k = v, or the deletion of k.
func (p *putLog) addRecord(k, v []byte, deleted bool) {
	n := len(k) + len(v)
	if len(p.chunks) == 0 || cap(p.chunks[len(p.chunks)-1])-len(p.chunks[len(p.chunks)-1]) < n {
		var size int
		switch left := p.hintBytes - p.bytes(); {
		case left >= putFirstChunk && !p.hinted: // what the hint asks for, less a first chunk carried over
			size, p.hinted = min(left, putHintedChunk), true
		case len(p.chunks) > 0: // twice the last, or small again after a hinted first
			p.grown = min(max(2*p.grown, putFirstChunk), putChunk)
			size = p.grown
		default:
			size, p.grown = putFirstChunk, putFirstChunk
		}
		p.chunks = append(p.chunks, p.mem.bytes(max(size, n))[:0])
	}
	c := len(p.chunks) - 1
	a := p.chunks[c]
	k0 := len(a)
	a = append(append(a, k...), v...)
	p.chunks[c] = a
	if len(p.log) == cap(p.log) { // double: append grows a large slice by a quarter, copying it more often
		p.grow(max(len(p.log), p.hint, 1024))
	}
	e := loggedPut{c: int32(c), k0: int32(k0), k1: int32(k0 + len(k)), v1: int32(len(a))}
	if deleted {
		e.v1 = -1
	}
	p.log = append(p.log, e)
}

// bytes is how many bytes of records the log holds.
func (p *putLog) bytes() int {
	n := 0
	for _, c := range p.chunks {
		n += len(c)
	}
	return n
}

// grow makes room for n more entries.
func (p *putLog) grow(n int) {
	l := p.mem.puts(len(p.log) + n)
	p.log = append(l, p.log...)
}

// writeTo writes the Puts into b sorted by key (pebble inserts runs of
// sorted keys much faster). Of two Puts of one key the later wins.
func (p *putLog) writeTo(b *pebble.Batch) error {
	p.sort(nil)
	for i := range p.log {
		if err := b.Set(p.key(i), p.value(i), nil); err != nil {
			return errors.Join(ErrStorage, err)
		}
	}
	return nil
}

// sort orders the log by key and drops every Put of a key but the
// last. scratch, if not nil, is memory of the caller's to sort with.
func (p *putLog) sort(scratch *sortScratch) {
	if len(p.log) < 2 { // the Runner's, one event's at a time, often
		return
	}
	if scratch == nil {
		scratch = new(sortScratch)
	}
	a := sizedScratch(&scratch.sorting, len(p.log))
	for i, e := range p.log {
		a[i] = sortingPut{pre: prefixOf(p.key(i)), loggedPut: e}
	}
	if s := (&putSorter{chunks: p.chunks}); !s.sorted(a) { // the audit's log is: keyed by time
		s.sortByBucket(a, &scratch.buckets)
	}
	// Keep the last of each key.
	n := 0
	for i := range a {
		if i+1 < len(a) {
			e, f := &a[i], &a[i+1]
			if e.pre == f.pre && bytes.Equal(p.chunks[e.c][e.k0:e.k1], p.chunks[f.c][f.k0:f.k1]) {
				continue
			}
		}
		p.log[n] = a[i].loggedPut
		n++
	}
	p.log = p.log[:n]
}

// keyPrefix is a key's first 24 bytes as three big-endian words,
// zero-padded: where two keys' prefixes differ, they order as the keys do
// (a key shorter than where they differ is a prefix of the other).
// Sorting and merging compare them before the bytes.
type keyPrefix [3]uint64

func prefixOf(k []byte) keyPrefix {
	if len(k) < 24 {
		var pre [24]byte
		copy(pre[:], k)
		k = pre[:]
	}
	return keyPrefix{be64(k[:8]), be64(k[8:16]), be64(k[16:24])}
}

// compareKeys compares keys a and b, whose prefixes are pa and pb.
func compareKeys(pa keyPrefix, a []byte, pb keyPrefix, b []byte) int {
	switch {
	case pa[0] != pb[0]:
		return cmp.Compare(pa[0], pb[0])
	case pa[1] != pb[1]:
		return cmp.Compare(pa[1], pb[1])
	case pa[2] != pb[2]:
		return cmp.Compare(pa[2], pb[2])
	}
	return compareAfterPrefix(a, b)
}

// compareAfterPrefix compares two keys whose prefixes (keyPrefix) are
// equal.
func compareAfterPrefix(a, b []byte) int {
	if len(a) >= 24 && len(b) >= 24 {
		return bytes.Compare(a[24:], b[24:])
	}
	return bytes.Compare(a, b)
}

// putSorter sorts a putLog's entries by key, then in the order they
// were logged: a quicksort (median of three, Hoare's partition, insertion
// sort of short runs) that calls its comparison directly. A rebuild sorts
// millions of entries, and slices.SortFunc, calling the comparison
// through a function value, took twice as long. Should a log ever make
// the quicksort go deep (a pattern that defeats the median of three), the
// rest goes to slices.SortFunc.
type putSorter struct{ chunks [][]byte }

func (s *putSorter) less(x, y *sortingPut) bool {
	if c := compareKeys(x.pre, s.chunks[x.c][x.k0:x.k1], y.pre, s.chunks[y.c][y.k0:y.k1]); c != 0 {
		return c < 0
	}
	if x.c != y.c {
		return x.c < y.c
	}
	return x.k0 < y.k0
}

// sorted reports whether a is in order already.
func (s *putSorter) sorted(a []sortingPut) bool {
	for i := 1; i < len(a); i++ {
		if s.less(&a[i], &a[i-1]) {
			return false
		}
	}
	return true
}

// sortByBucket sorts a, after a bucket sort through scratch (grown as
// needed): entries go, in the order logged, into buckets by the first 10
// bytes of their key (a projection's kind of record and a video,
// in the activity's keys), and only the buckets not already in order are
// sorted. A video's timeline entries are logged in key order: a rebuild
// sorts only its annotations' versions, within each video, instead of
// everything.
func (s *putSorter) sortByBucket(a []sortingPut, scratch *[]sortingPut) {
	type bucket struct {
		pre        [2]uint64
		n, at      int
		outOfOrder bool
		last       int // the last entry placed, to see whether the next follows
	}
	idx := make(map[[2]uint64]int, 64)
	var bs []bucket
	of := make([]int32, len(a)) // each entry's bucket
	for i := range a {
		k := [2]uint64{a[i].pre[0], a[i].pre[1] >> 48}
		b, ok := idx[k]
		if !ok {
			if len(bs) >= len(a)/4 { // buckets too small to be worth it
				s.sort(a, 2*bits.Len(uint(len(a))))
				return
			}
			b = len(bs)
			idx[k] = b
			bs = append(bs, bucket{pre: k, last: -1})
		}
		x := &bs[b]
		if x.last >= 0 && !x.outOfOrder && s.less(&a[i], &a[x.last]) {
			x.outOfOrder = true
		}
		x.n++
		x.last = i
		of[i] = int32(b)
	}
	order := make([]int, len(bs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int {
		return cmp.Or(cmp.Compare(bs[x].pre[0], bs[y].pre[0]), cmp.Compare(bs[x].pre[1], bs[y].pre[1]))
	})
	at := 0
	for _, b := range order {
		bs[b].at = at
		at += bs[b].n
	}
	out := sizedScratch(scratch, len(a))
	next := make([]int, len(bs))
	for b := range bs {
		next[b] = bs[b].at
	}
	for i := range a {
		b := of[i]
		out[next[b]] = a[i]
		next[b]++
	}
	copy(a, out)
	for _, x := range bs {
		if x.outOfOrder {
			part := a[x.at : x.at+x.n]
			s.sort(part, 2*bits.Len(uint(len(part))))
		}
	}
}

func (s *putSorter) sort(a []sortingPut, depth int) {
	for len(a) > 16 {
		if depth--; depth < 0 {
			slices.SortFunc(a, func(x, y sortingPut) int {
				switch {
				case s.less(&x, &y):
					return -1
				case s.less(&y, &x):
					return 1
				}
				return 0
			})
			return
		}
		// The median of the first, middle and last entries goes first,
		// as the pivot of a Hoare partition.
		m, l := len(a)/2, len(a)-1
		if s.less(&a[m], &a[0]) {
			a[m], a[0] = a[0], a[m]
		}
		if s.less(&a[l], &a[m]) {
			a[l], a[m] = a[m], a[l]
			if s.less(&a[m], &a[0]) {
				a[m], a[0] = a[0], a[m]
			}
		}
		a[0], a[m] = a[m], a[0]
		pivot := a[0]
		i, j := -1, len(a)
		for {
			for i++; s.less(&a[i], &pivot); i++ {
			}
			for j--; s.less(&pivot, &a[j]); j-- {
			}
			if i >= j {
				break
			}
			a[i], a[j] = a[j], a[i]
		}
		// a[:j+1] <= pivot <= a[j+1:]: recurse into the smaller part.
		if j+1 < len(a)-j-1 {
			s.sort(a[:j+1], depth)
			a = a[j+1:]
		} else {
			s.sort(a[j+1:], depth)
			a = a[:j+1]
		}
	}
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && s.less(&a[j], &a[j-1]); j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func (p *putLog) key(i int) []byte {
	e := &p.log[i]
	return p.chunks[e.c][e.k0:e.k1]
}

// value is the i-th record's value; nil if it is a deletion.
func (p *putLog) value(i int) []byte {
	e := &p.log[i]
	if e.v1 < 0 {
		return nil
	}
	return p.chunks[e.c][e.k1:e.v1:e.v1]
}

// find looks k up in the sorted log: its value (nil: deleted), and
// whether the log has it.
func (p *putLog) find(k []byte) ([]byte, bool) {
	if p.sorted != nil {
		<-p.sorted
	}
	// A search of its own: through slices.BinarySearchFunc, k escaped to
	// the heap, and with it every key a projection builds to Get.
	lo, hi := 0, len(p.log)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		e := &p.log[m]
		if bytes.Compare(p.chunks[e.c][e.k0:e.k1], k) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(p.log) || !bytes.Equal(p.key(lo), k) {
		return nil, false
	}
	return p.value(lo), true
}

// putMark is where a putLog ended.
type putMark struct{ n, chunks, last int }

func (p *putLog) mark() putMark {
	m := putMark{n: len(p.log), chunks: len(p.chunks)}
	if m.chunks > 0 {
		m.last = len(p.chunks[m.chunks-1])
	}
	return m
}

// truncate drops what was logged since m.
func (p *putLog) truncate(m putMark) {
	p.log = p.log[:m.n]
	clear(p.chunks[m.chunks:])
	p.chunks = p.chunks[:m.chunks]
	if m.chunks > 0 {
		p.chunks[m.chunks-1] = p.chunks[m.chunks-1][:m.last]
	}
}

// reset empties the log, keeping its first chunk for reuse.
func (p *putLog) reset() {
	p.log = p.log[:0]
	if len(p.chunks) > 0 {
		clear(p.chunks[1:])
		p.chunks = append(p.chunks[:0], p.chunks[0][:0])
	}
}

type cached struct {
	key   string // the map's key
	v     []byte // nil: the key is absent
	dirty bool   // changed since the last commit
}

func (w *Writer) begin(r pebble.Reader) {
	w.r = r
	w.ops = w.ops[:0]
	w.arena = w.arena[:0]
	w.dropPending()
	w.mark, w.pending = w.puts.mark(), true
	w.got, w.nGot = [4]*cached{}, 0
}

func (w *Writer) stage(kind byte, k, v []byte) {
	k0 := len(w.arena)
	w.arena = append(w.arena, k...)
	v0 := len(w.arena)
	w.arena = append(w.arena, v...)
	w.ops = append(w.ops, stagedOp{kind: kind, k0: k0, k1: v0, v0: v0, v1: len(w.arena)})
}

// Set stages key = value, a record Get reads back. Both are copied.
func (w *Writer) Set(k, v []byte) { w.stage('s', k, v) }

// Delete stages the removal of a record Get reads back.
func (w *Writer) Delete(k []byte) { w.stage('d', k, nil) }

// Put stages key = value, a record the projection never reads back.
func (w *Writer) Put(k, v []byte) { w.puts.add(k, v) }

// Get returns the value of a record written with Set, as this event's
// staged writes leave it, and false when there is none. The value is
// valid until Apply returns; the caller must not modify it.
func (w *Writer) Get(k []byte) ([]byte, bool, error) {
	for i := len(w.ops) - 1; i >= 0; i-- {
		op := w.ops[i]
		if bytes.Equal(w.arena[op.k0:op.k1], k) {
			if op.kind == 'd' {
				return nil, false, nil
			}
			return w.arena[op.v0:op.v1:op.v1], true, nil
		}
	}
	if c, ok := w.cache[string(k)]; ok {
		w.gotten(c)
		return c.v, c.v != nil, nil
	}
	if c, ok := w.prev[string(k)]; ok {
		var v []byte
		if c.v != nil {
			v = w.alloc(len(c.v), len(c.v)+valueSlack)
			copy(v, c.v)
		}
		w.gotten(w.remember(k, v))
		return v, v != nil, nil
	}
	if w.written != nil && !w.written.mayContain(k) {
		return nil, false, nil
	}
	for i := len(w.sealedSets) - 1; i >= 0; i-- {
		if v, ok := w.sealedSets[i].find(k); ok {
			if v != nil {
				v = append(w.alloc(0, len(v)+valueSlack), v...)
			}
			w.remember(k, v)
			return v, v != nil, nil
		}
	}
	// A copy, so that the caller's key (built on its stack) does not
	// escape through the interface.
	w.getKey = append(w.getKey[:0], k...)
	v, closer, err := w.r.Get(w.getKey)
	if errors.Is(err, pebble.ErrNotFound) {
		w.remember(k, nil)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, errors.Join(ErrStorage, err)
	}
	out := w.alloc(len(v), len(v)+valueSlack) // never nil, even when empty
	copy(out, v)
	closer.Close()
	w.remember(k, out)
	return out, true, nil
}

// valueSlack is the room left after a cached value, so that a record
// rewritten a little longer (a counter gaining a digit) stays in place.
const valueSlack = 8

// slabChunk is how much slab memory is allocated at a time.
const slabChunk = 1 << 20

// alloc returns a buffer of length n and capacity c from the slab. It
// stays valid until the cache is dropped.
func (w *Writer) alloc(n, c int) []byte {
	if c > slabChunk/4 {
		w.held += c
		return w.genMem.bytes(c)[:n]
	}
	if cap(w.slab)-len(w.slab) < c {
		w.slab = w.genMem.bytes(slabChunk)[:0]
		w.held += slabChunk
	}
	b := w.slab[len(w.slab) : len(w.slab)+n : len(w.slab)+c]
	w.slab = w.slab[:len(w.slab)+c]
	return b
}

// newEntry returns a zero cache entry; entries come from a slice, a
// chunk at a time.
func (w *Writer) newEntry() *cached {
	if len(w.entries) == cap(w.entries) {
		w.entries = w.genMem.cacheEntries(4096)
		w.held += 4096 * int(unsafe.Sizeof(cached{}))
	}
	w.entries = w.entries[:len(w.entries)+1]
	return &w.entries[len(w.entries)-1]
}

// buf returns an empty buffer to encode a key or a value in. Set, Put
// and Delete copy what they are given, so the buffer serves again once
// the record is staged; it is never the buffer of a value Get returned.
func (w *Writer) buf() []byte {
	if cap(w.scratch) == 0 {
		w.scratch = make([]byte, 0, 4096)
	}
	return w.scratch[:0]
}

// dropPending drops the Puts of an event that was not accepted.
func (w *Writer) dropPending() {
	if w.pending {
		w.puts.truncate(w.mark)
		w.pending = false
	}
}

// gotten notes that this event's Get found c.
func (w *Writer) gotten(c *cached) {
	if w.nGot < len(w.got) {
		w.got[w.nGot] = c
		w.nGot++
	}
}

// entry returns k's cache entry, making an empty one if there is none.
func (w *Writer) entry(k []byte) *cached {
	if c := w.gotEntry(k); c != nil {
		return c
	}
	return w.lookup(k)
}

// writeEntry is entry for a key the event writes (Set or Delete), which
// the written filter, if any, takes note of: a key it had never seen has
// no entry (every one is made by a write, or by a Get the filter let
// through), so a new one is made without a lookup. In a rebuild, most
// keys written are new: a new annotation, session or connection.
func (w *Writer) writeEntry(k []byte) *cached {
	if c := w.gotEntry(k); c != nil { // before the filter: its probe is a hash and a cache line
		return c
	}
	if w.written != nil && w.written.addNew(k) {
		return w.insert(k)
	}
	return w.lookup(k)
}

// gotEntry returns the entry this event's Gets found for k, or nil.
func (w *Writer) gotEntry(k []byte) *cached {
	for _, c := range w.got[:w.nGot] {
		if c.key == string(k) {
			return c
		}
	}
	return nil
}

// lookup returns k's entry in the current generation, making it if
// there is none.
func (w *Writer) lookup(k []byte) *cached {
	if c, ok := w.cache[string(k)]; ok {
		return c
	}
	return w.insert(k)
}

// insert makes k's cache entry, which must not exist.
func (w *Writer) insert(k []byte) *cached {
	if w.cache == nil {
		w.cache = make(map[string]*cached, 1024)
	}
	if len(w.cache) == reserveFrom {
		w.cache = w.roomy(w.cache)
	}
	// The key's bytes are in the slab and never change: the string can
	// share them.
	kb := w.alloc(len(k), len(k))
	copy(kb, k)
	key := unsafe.String(unsafe.SliceData(kb), len(kb))
	c := w.newEntry()
	c.key = key
	w.cache[key] = c
	return c
}

// remember caches k = v (v nil: absent), as read. v is kept, not
// copied.
func (w *Writer) remember(k, v []byte) *cached {
	c := w.entry(k)
	w.note(c, v, false)
	return c
}

func (w *Writer) note(c *cached, v []byte, dirty bool) {
	if dirty && !c.dirty { // c is of the current generation: entry makes it there
		w.dirty = append(w.dirty, c)
	}
	c.v, c.dirty = v, c.dirty || dirty
}

// set records a Set in the cache, reusing the cached value's buffer: a
// value Get returned is not used after its Apply returns.
func (w *Writer) set(k, v []byte) {
	c := w.writeEntry(k)
	if c.v != nil && cap(c.v) >= len(v) {
		w.note(c, append(c.v[:0], v...), true)
	} else {
		b := w.alloc(len(v), len(v)+valueSlack)
		copy(b, v)
		w.note(c, b, true)
	}
}

// accept takes this event's staged writes: the event is applied, they
// will be in the next commit.
func (w *Writer) accept() {
	w.pending = false
	for _, op := range w.ops {
		k, v := w.arena[op.k0:op.k1], w.arena[op.v0:op.v1]
		switch op.kind {
		case 'd':
			w.note(w.writeEntry(k), nil, true)
		default:
			w.set(k, v)
		}
	}
	w.ops, w.arena = w.ops[:0], w.arena[:0]
}

// commitTo writes everything accepted since the last commit into b: the
// logged Puts sorted by key, and each changed record once.
func (w *Writer) commitTo(b *pebble.Batch) error {
	if err := w.puts.writeTo(b); err != nil {
		return err
	}
	w.puts.reset()
	return w.commitSetsTo(b)
}

// takePuts hands over the Puts accepted since the last commit, for the
// caller to write (putLog.writeTo) while the Writer goes on: it must be
// done with them before it calls takePuts again, which reuses them.
func (w *Writer) takePuts() *putLog {
	w.dropPending()
	w.puts, w.spare = w.spare, w.puts
	w.puts.reset()
	return &w.spare
}

// seal, in a rebuild, hands the Puts accepted since the last seal to
// sort (which sorts them on another goroutine), and trims the cache,
// sealing the records changed in the generation it drops. The Writer
// keeps the sealed logs until committed, for the commit (sealed) and,
// those of records Set, for Get.
func (w *Writer) seal(sort func(*putLog)) {
	w.dropPending()
	if len(w.puts.log) > 0 {
		p := w.puts
		n := p.bytes()
		w.puts = putLog{mem: w.mem, hint: len(p.log) + len(p.log)/8, hintBytes: n + n/16} // the next will be about as long
		// The next log starts in the room left in p's last chunk: the
		// chunks of a rebuild's logs had left 30 of 211 MB unused. No
		// byte is in both: p's last chunk ends where its records do.
		last := p.chunks[len(p.chunks)-1]
		p.chunks[len(p.chunks)-1] = last[:len(last):len(last)]
		if rest := last[len(last):]; cap(rest) > 0 {
			w.puts.chunks = [][]byte{rest}
		}
		w.sealedPuts = append(w.sealedPuts, &p)
		sort(&p)
	}
	w.trim(sort)
}

// sealed returns the logs sealed since the last commit: of the Puts, and
// of the records Set, each oldest first.
func (w *Writer) sealed() []*putLog { return slices.Concat(w.sealedPuts, w.sealedSets) }

// sortedSets returns the records changed since the last commit, of
// the generation before and of the current one, each sorted by key, with
// its value, or nil if it was deleted; a key may be in both, the current
// one's later. They stay pending until committed.
func (w *Writer) sortedSets() (prev, cur []*cached) {
	for _, d := range [][]*cached{w.dirtyPrev, w.dirty} {
		slices.SortFunc(d, func(x, y *cached) int { return strings.Compare(x.key, y.key) })
	}
	return w.dirtyPrev, w.dirty
}

// committed marks the records changed since the last commit as
// committed, and lets go of the sealed logs.
func (w *Writer) committed() {
	for _, d := range [][]*cached{w.dirtyPrev, w.dirty} {
		for _, c := range d {
			c.dirty = false
		}
	}
	w.dirtyPrev, w.dirty = w.dirtyPrev[:0], w.dirty[:0]
	w.sealedPuts, w.sealedSets = nil, nil
}

// commitSetsTo writes each record changed since the last commit into b,
// once; with takePuts, it is commitTo.
func (w *Writer) commitSetsTo(b *pebble.Batch) error {
	if len(w.sealedPuts)+len(w.sealedSets) > 0 {
		return errors.New("projections: a Writer that sealed records commits them as tables")
	}
	prev, cur := w.sortedSets()
	for _, d := range [][]*cached{prev, cur} {
		for _, c := range d {
			k := unsafe.Slice(unsafe.StringData(c.key), len(c.key)) // pebble copies it
			var err error
			if c.v == nil {
				err = b.Delete(k, nil)
			} else {
				err = b.Set(k, c.v, nil)
			}
			if err != nil {
				return errors.Join(ErrStorage, err)
			}
		}
	}
	w.committed()
	return nil
}

// trim starts a new generation of the cache if the current one has grown
// past half of maxCached. What it drops is the generation before. Either
// its records are committed (commitTo wrote them; a caller that commits
// in the background needs only to have committed the batches before),
// or, in a rebuild, seal takes them: trim copies the ones changed since
// the last commit into a log, hands it to seal to be sorted (which
// closes its sorted channel), and Get looks there before the database
// until committed.
func (w *Writer) trim(seal func(*putLog)) {
	if len(w.cache) <= maxCached/2 {
		return
	}
	if len(w.dirtyPrev) > 0 {
		if seal == nil {
			panic("projections: Writer.trim would drop records not committed")
		}
		p := &putLog{sorted: make(chan struct{}), mem: w.mem}
		size := 0
		for _, c := range w.dirtyPrev {
			size += len(c.key) + len(c.v)
		}
		p.log = p.mem.puts(len(w.dirtyPrev))
		p.chunks = [][]byte{p.mem.bytes(size)[:0]} // room for all: one chunk
		for _, c := range w.dirtyPrev {
			p.addRecord(unsafe.Slice(unsafe.StringData(c.key), len(c.key)), c.v, c.v == nil)
		}
		w.sealedSets = append(w.sealedSets, p)
		seal(p)
	}
	old := w.prev
	clear(old) // its room serves the next generation
	if old == nil {
		old = w.roomy(nil)
	}
	w.prev, w.cache = w.cache, old
	w.reserving = false // both maps have room now: they take turns
	w.dirtyPrev, w.dirty = w.dirty, w.dirtyPrev[:0]
	w.slab, w.entries = nil, nil
	w.held, w.heldPrev = 0, w.held
	// The generation dropped gives its memory back to its bulk, which
	// serves the next one with it.
	w.genMemPrev.reset()
	w.genMem, w.genMemPrev = w.genMemPrev, w.genMem
}

// forget drops everything accepted and cached: after a failed commit the
// cache is ahead of the database.
func (w *Writer) forget() {
	w.dropCache()
	w.written = nil
	w.puts.reset()
	w.pending = false
	w.dirty, w.dirtyPrev = w.dirty[:0], w.dirtyPrev[:0]
	w.sealedPuts, w.sealedSets = nil, nil
}

// reserve has the cache make room for a generation of maxCached/2
// records at once, once it holds reserveFrom, for a run that may fill it
// (a rebuild): grown step by step, the maps had cost 3 % of a rebuild's
// CPU in rehashing. Not from the start: the users' and the videos'
// projections cache a few thousand records, and the room for a quarter
// of a million cost them tens of megabytes, zeroed.
//
// It also has the cache take its memory from bulks (see genMem), which
// releaseCache releases.
func (w *Writer) reserve() {
	w.reserving = true
	w.genMem, w.genMemPrev = new(bulk), new(bulk)
}

// releaseCache drops the cache and releases its memory: the Writer of a
// rebuild that is over.
func (w *Writer) releaseCache() {
	w.dropCache()
	w.dirty, w.dirtyPrev = w.dirty[:0], w.dirtyPrev[:0]
}

// reserveFrom is how many records the cache of a Writer that reserves
// holds when it makes room for a generation (a variable for tests).
var reserveFrom = 4096

// roomy returns m, or a copy of it with room for a generation when the
// Writer reserves: until its first trim, after which both maps have
// room.
func (w *Writer) roomy(m map[string]*cached) map[string]*cached {
	if !w.reserving {
		return m
	}
	r := make(map[string]*cached, maxCached/2)
	maps.Copy(r, m)
	return r
}

// dropCache empties the cache, keeping the map's room: it will grow as
// large again.
func (w *Writer) dropCache() {
	clear(w.cache)
	clear(w.prev)
	w.slab, w.entries = nil, nil
	w.held, w.heldPrev = 0, 0
	w.genMem.release()
	w.genMemPrev.release()
}

// cacheBytes is about how much memory the Writer's cache holds. (In a
// rebuild, its logs are in a bulk, which counts them.)
func (w *Writer) cacheBytes() int {
	const perEntry = 48 // a map slot: the string, the pointer, control bytes
	return w.held + w.heldPrev + perEntry*(len(w.cache)+len(w.prev))
}

// useBulk has the Writer allocate its logs from b from now on. It must
// hold none: a rebuild changes bulks at a commit, once every log is
// sealed and committed.
func (w *Writer) useBulk(b *bulk) {
	if len(w.puts.log)+len(w.sealedPuts)+len(w.sealedSets) > 0 {
		panic("projections: a Writer changes bulks while it holds logs")
	}
	w.mem = b
	w.puts = putLog{mem: b, hint: w.puts.hint, hintBytes: w.puts.hintBytes}
}
