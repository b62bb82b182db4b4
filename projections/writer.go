package projections

import (
	"bytes"
	"cmp"
	"errors"
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
const maxCached = 1 << 18

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
	ops   []stagedOp    // this event's writes
	arena []byte

	// Accepted since the last commit: the logged Puts and the keys Set
	// or Deleted (dirty in cache).
	puts  putLog
	spare putLog // see takePuts
	dirty []*cached
	cache map[string]*cached
	prev  map[string]*cached // the generation before: clean, read only
	// slab holds the cache's keys, values and entries: a rebuild caches
	// a quarter of a million records, and allocating each one apart cost
	// more in garbage collection than the rest of the cache.
	slab    []byte
	entries []cached

	scratch []byte // see buf
	getKey  []byte // the key of a database lookup

	// written, when set, holds every key Set since the projection's
	// records were cleared: a key not in it is absent.
	written *absentFilter
}

type stagedOp struct {
	kind           byte // 's' set, 'd' delete, 'p' put
	k0, k1, v0, v1 int  // key and value as offsets into arena
}

// putLog is the Puts accepted since a commit, in the order accepted.
type putLog struct {
	log   []loggedPut
	arena []byte
}

type loggedPut struct {
	// The key's first 24 bytes, big endian, zero-padded: sorting compares
	// them before it looks in the arena. Where they differ they order as
	// the keys do (a key shorter than where they differ is a prefix of
	// the other).
	p0, p1, p2 uint64
	k0, k1, v1 int // key and value as offsets into arena
}

func (p *putLog) add(k, v []byte) {
	k0 := len(p.arena)
	p.arena = append(p.arena, k...)
	k1 := len(p.arena)
	p.arena = append(p.arena, v...)
	p.log = append(p.log, loggedPut{k0: k0, k1: k1, v1: len(p.arena)})
}

// writeTo writes the Puts into b sorted by key (pebble inserts runs of
// sorted keys much faster). Of two Puts of one key the later wins.
func (p *putLog) writeTo(b *pebble.Batch) error {
	a := p.arena
	for i := range p.log {
		e := &p.log[i]
		var pre [24]byte
		copy(pre[:], a[e.k0:e.k1])
		e.p0, e.p1, e.p2 = be64(pre[:8]), be64(pre[8:16]), be64(pre[16:])
	}
	slices.SortFunc(p.log, func(x, y loggedPut) int {
		if x.p0 != y.p0 {
			return cmp.Compare(x.p0, y.p0)
		}
		if x.p1 != y.p1 {
			return cmp.Compare(x.p1, y.p1)
		}
		if x.p2 != y.p2 {
			return cmp.Compare(x.p2, y.p2)
		}
		if c := bytes.Compare(a[x.k0:x.k1], a[y.k0:y.k1]); c != 0 {
			return c
		}
		return cmp.Compare(x.k0, y.k0) // the order they were logged in
	})
	for _, e := range p.log {
		if err := b.Set(a[e.k0:e.k1], a[e.k1:e.v1], nil); err != nil {
			return errors.Join(ErrStorage, err)
		}
	}
	return nil
}

func (p *putLog) reset() { p.log, p.arena = p.log[:0], p.arena[:0] }

type cached struct {
	key   string // the map's key
	v     []byte // nil: the key is absent
	dirty bool   // changed since the last commit
}

func (w *Writer) begin(r pebble.Reader) {
	w.r = r
	w.ops = w.ops[:0]
	w.arena = w.arena[:0]
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
func (w *Writer) Put(k, v []byte) { w.stage('p', k, v) }

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
		return c.v, c.v != nil, nil
	}
	if c, ok := w.prev[string(k)]; ok {
		var v []byte
		if c.v != nil {
			v = w.alloc(len(c.v), len(c.v)+valueSlack)
			copy(v, c.v)
		}
		w.remember(k, v, false)
		return v, v != nil, nil
	}
	if w.written != nil && !w.written.mayContain(k) {
		return nil, false, nil
	}
	// A copy, so that the caller's key (built on its stack) does not
	// escape through the interface.
	w.getKey = append(w.getKey[:0], k...)
	v, closer, err := w.r.Get(w.getKey)
	if errors.Is(err, pebble.ErrNotFound) {
		w.remember(k, nil, false)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, errors.Join(ErrStorage, err)
	}
	out := w.alloc(len(v), len(v)+valueSlack) // never nil, even when empty
	copy(out, v)
	closer.Close()
	w.remember(k, out, false)
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
		return make([]byte, n, c)
	}
	if cap(w.slab)-len(w.slab) < c {
		w.slab = make([]byte, 0, slabChunk)
	}
	b := w.slab[len(w.slab) : len(w.slab)+n : len(w.slab)+c]
	w.slab = w.slab[:len(w.slab)+c]
	return b
}

// newEntry returns a zero cache entry; entries come from a slice, a
// chunk at a time.
func (w *Writer) newEntry() *cached {
	if len(w.entries) == cap(w.entries) {
		w.entries = make([]cached, 0, 4096)
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

// entry returns k's cache entry, making an empty one if there is none.
func (w *Writer) entry(k []byte) *cached {
	if w.cache == nil {
		w.cache = make(map[string]*cached, 1024)
	}
	if c, ok := w.cache[string(k)]; ok {
		return c
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

// remember caches k = v (v nil: absent); dirty marks a write to commit.
// v is kept, not copied.
func (w *Writer) remember(k, v []byte, dirty bool) { w.mark(w.entry(k), v, dirty) }

func (w *Writer) mark(c *cached, v []byte, dirty bool) {
	if dirty && !c.dirty {
		w.dirty = append(w.dirty, c)
	}
	c.v, c.dirty = v, c.dirty || dirty
}

// set records a Set in the cache, reusing the cached value's buffer: a
// value Get returned is not used after its Apply returns.
func (w *Writer) set(k, v []byte) {
	c := w.entry(k)
	had := c.v != nil
	if had && cap(c.v) >= len(v) {
		w.mark(c, append(c.v[:0], v...), true)
	} else {
		b := w.alloc(len(v), len(v)+valueSlack)
		copy(b, v)
		w.mark(c, b, true)
	}
	// A key with a value in the cache was Set, or read from the
	// database, where it is only if it was Set since the clearing: the
	// filter has it already.
	if !had && w.written != nil {
		w.written.add(k)
	}
}

// accept takes this event's staged writes: the event is applied, they
// will be in the next commit.
func (w *Writer) accept() {
	for _, op := range w.ops {
		k, v := w.arena[op.k0:op.k1], w.arena[op.v0:op.v1]
		switch op.kind {
		case 'p':
			w.puts.add(k, v)
		case 'd':
			w.remember(k, nil, true)
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
	w.puts, w.spare = w.spare, w.puts
	w.puts.reset()
	return &w.spare
}

// commitSetsTo writes each record changed since the last commit into b,
// once; with takePuts, it is commitTo.
func (w *Writer) commitSetsTo(b *pebble.Batch) error {
	slices.SortFunc(w.dirty, func(x, y *cached) int { return strings.Compare(x.key, y.key) })
	for _, c := range w.dirty {
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
		c.dirty = false
	}
	w.dirty = w.dirty[:0]
	return nil
}

// trim starts a new generation of the cache, once commitTo has written
// it, if the current one has grown past half of maxCached. What it drops
// is the generation before, whose records the batches before the one
// commitTo wrote hold: a caller that commits in the background needs
// only to have committed those.
func (w *Writer) trim() {
	if len(w.cache) <= maxCached/2 {
		return
	}
	old := w.prev
	clear(old) // its room serves the next generation
	w.prev, w.cache = w.cache, old
	w.slab, w.entries = nil, nil
}

// forget drops everything accepted and cached: after a failed commit the
// cache is ahead of the database.
func (w *Writer) forget() {
	w.dropCache()
	w.written = nil
	w.puts.reset()
	w.dirty = w.dirty[:0]
}

// dropCache empties the cache, keeping the map's room: it will grow as
// large again.
func (w *Writer) dropCache() {
	clear(w.cache)
	clear(w.prev)
	w.slab, w.entries = nil, nil
}
