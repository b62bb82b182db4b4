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
	// held is every record Set (its value) or Deleted (nil) in the
	// batch under way, for Get, and for the commit, which writes each
	// once however often the batch changed it (dirty lists them).
	held  map[string][]byte
	dirty []string

	ops   []stagedOp // this event's writes
	arena []byte     // their keys and values
	buf0  []byte     // see buf
}

type stagedOp struct {
	kind           byte // 's' set, 'd' delete, 'p' put
	k0, k1, v0, v1 int  // key and value as offsets into arena
}

func newWriter(r pebble.Reader, b *pebble.Batch) *Writer {
	return &Writer{r: r, batch: b, held: map[string][]byte{}}
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
	if v, ok := w.held[string(k)]; ok {
		return v, v != nil, nil
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
		var nv []byte
		switch {
		case op.kind != 's':
		case old != nil:
			// Nothing reads the value it replaces any more (what Get
			// returned lasts until Apply returns; flush copies): its
			// memory serves again.
			nv = append(old[:0], v...)
		default:
			nv = append([]byte{}, v...) // never nil, even when empty
		}
		if !ok {
			w.dirty = append(w.dirty, string(k))
		}
		w.held[string(k)] = nv
	}
	return nil
}

// flush writes each record the batch Set or Deleted, as it left it.
func (w *Writer) flush() error {
	for _, k := range w.dirty {
		v := w.held[k]
		if err := w.write([]byte(k), v, v == nil); err != nil {
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

// reset starts a new batch: what was held is committed, or abandoned.
func (w *Writer) reset(b *pebble.Batch) {
	w.batch = b
	clear(w.held)
	clear(w.dirty)
	w.dirty = w.dirty[:0]
	w.drop()
}
