package projections

import (
	"bytes"
	"errors"

	"github.com/cockroachdb/pebble/v2"
)

// Writer is how a projection's Apply reads and writes its model. Writes
// are staged: they reach the engine's batch only when Apply succeeds, so
// an event is applied whole or not at all, while the events before it
// in the batch stay.
//
// There are two kinds of record. Set and Delete write records that the
// projection reads back with Get (counters, open viewings, current
// annotations): Get sees them before they are committed. Put writes
// records the projection never reads back (timeline entries, versions):
// they go to the batch only, which keeps what the Writer holds small.
//
// A Writer is used by one goroutine.
type Writer struct {
	r     pebble.Reader
	batch *pebble.Batch
	// held is every record Set or Deleted in the batch under way, for
	// Get, and for the commit, which writes each once however often the
	// batch changed it (dirty lists them). After a clear (see keepAll),
	// it holds every record Set or Deleted since.
	held  map[string]heldRec
	dirty []string
	n     int // the batch under way, counted
	// cleared marks the key prefixes of the projections whose records
	// were cleared when the run began: while held keeps everything
	// written since (all), a key of theirs not in held does not exist,
	// and Get need not ask the database, whose blocks a rebuild has just
	// written and not yet read.
	cleared [256]bool
	all     bool

	ops   []stagedOp // this event's writes
	arena []byte     // their keys and values
	buf0  []byte     // see buf
}

// heldRec is a record's value (nil: deleted), and the batch that last
// changed it.
type heldRec struct {
	v []byte
	n int
}

type stagedOp struct {
	kind           byte // 's' set, 'd' delete, 'p' put
	k0, k1, v0, v1 int  // key and value as offsets into arena
}

func newWriter(r pebble.Reader, b *pebble.Batch) *Writer {
	return &Writer{r: r, batch: b, held: map[string]heldRec{}}
}

// Set stages key = value, a record Get reads back. Both are copied.
func (w *Writer) Set(k, v []byte) { w.stage('s', k, v) }

// Delete stages the removal of a record Get reads back.
func (w *Writer) Delete(k []byte) { w.stage('d', k, nil) }

// Put stages key = value, a record the projection never reads back. Both
// are copied.
func (w *Writer) Put(k, v []byte) { w.stage('p', k, v) }

func (w *Writer) stage(kind byte, k, v []byte) {
	k0 := len(w.arena)
	w.arena = append(w.arena, k...)
	v0 := len(w.arena)
	w.arena = append(w.arena, v...)
	w.ops = append(w.ops, stagedOp{kind: kind, k0: k0, k1: v0, v0: v0, v1: len(w.arena)})
}

// Get returns the value of a record written with Set, as the writes
// staged so far leave it, and false when there is none. The value is
// valid until Apply returns; the caller must not modify it.
func (w *Writer) Get(k []byte) ([]byte, bool, error) {
	for i := len(w.ops) - 1; i >= 0; i-- {
		op := w.ops[i]
		if op.kind != 'p' && bytes.Equal(w.arena[op.k0:op.k1], k) {
			if op.kind == 'd' {
				return nil, false, nil
			}
			return w.arena[op.v0:op.v1:op.v1], true, nil
		}
	}
	if r, ok := w.held[string(k)]; ok {
		return r.v, r.v != nil, nil
	}
	if w.all && len(k) > 0 && w.cleared[k[0]] {
		return nil, false, nil
	}
	v, closer, err := w.r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, errors.Join(ErrStorage, err)
	}
	out := append([]byte{}, v...) // never nil, even when empty
	closer.Close()
	return out, true, nil
}

// buf returns an empty buffer to encode a key or a value in. Set, Put and
// Delete copy what they are given, so the buffer serves again once the
// record is staged; it is never the buffer of a value Get returned.
func (w *Writer) buf() []byte {
	if w.buf0 == nil {
		w.buf0 = make([]byte, 0, 512)
	}
	return w.buf0[:0]
}

// drop forgets this event's staged writes.
func (w *Writer) drop() { w.ops, w.arena = w.ops[:0], w.arena[:0] }

// accept moves this event's staged writes into the batch: its Puts, and
// its Sets and Deletes into held, for flush.
func (w *Writer) accept() error {
	defer w.drop()
	for _, op := range w.ops {
		k, v := w.arena[op.k0:op.k1], w.arena[op.v0:op.v1]
		if op.kind == 'p' {
			if err := w.write(k, v, false); err != nil {
				return err
			}
			continue
		}
		old, ok := w.held[string(k)]
		r := heldRec{n: w.n}
		switch {
		case op.kind != 's':
		case old.v != nil:
			// Nothing reads the value it replaces any more (what Get
			// returned lasts until Apply returns; flush copies): its
			// memory serves again.
			r.v = append(old.v[:0], v...)
		default:
			r.v = append([]byte{}, v...) // never nil, even when empty
		}
		if !ok || old.n != w.n {
			key := string(k)
			w.dirty = append(w.dirty, key)
			w.held[key] = r
		} else {
			w.held[string(k)] = r
		}
	}
	return nil
}

// flush writes each record the batch Set or Deleted, as it left it.
func (w *Writer) flush() error {
	for _, k := range w.dirty {
		r := w.held[k]
		if err := w.write([]byte(k), r.v, r.v == nil); err != nil {
			return err
		}
	}
	return nil
}

// write writes k = v, or deletes k, into the batch.
func (w *Writer) write(k, v []byte, del bool) error {
	var err error
	if del {
		err = w.batch.Delete(k, nil)
	} else {
		err = w.batch.Set(k, v, nil)
	}
	if err != nil {
		return errors.Join(ErrStorage, err)
	}
	return nil
}

// maxHeld bounds how many records a Writer keeps between batches after a
// clear; past it, Get asks the database again.
const maxHeld = 1 << 22

// keepAll has the Writer keep, from now on, every record Set or Deleted,
// across batches, for the projections whose prefixes were just cleared.
// About as many records as events are kept (a rebuild of the builtin
// projections keeps 1.3 per event), so held is made that large at once
// rather than grown step by step.
func (w *Writer) keepAll(prefixes []byte, events int) {
	if len(w.held) == 0 {
		w.held = make(map[string]heldRec, min(events, maxHeld))
	}
	for _, p := range prefixes {
		w.cleared[p] = true
	}
	w.all = len(prefixes) > 0
}

// reset starts a new batch: what was held is committed (committed true),
// or abandoned.
func (w *Writer) reset(b *pebble.Batch, committed bool) {
	w.batch = b
	if !committed || len(w.held) > maxHeld {
		w.all = false
	}
	if !w.all {
		clear(w.held)
	}
	clear(w.dirty)
	w.dirty = w.dirty[:0]
	w.n++
	w.drop()
}
