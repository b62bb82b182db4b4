package pebble

import (
	"context"
	"fmt"

	"github.com/videologue/videologue/eventstore"
)

// scanBytes is about how much of the log ScanAll copies out of pebble at a
// time: a few chunks, small enough to stay in the CPU's cache while they
// are decoded, large enough that opening an iterator and seeking is rare.
const scanBytes = 1 << 20

// scanRun is a run of chunks copied out of pebble: the chunk starting at
// firsts[i] is buf[offs[i]:offs[i+1]].
type scanRun struct {
	buf    []byte
	firsts []uint64
	offs   []int
}

func (r *scanRun) reset() {
	r.buf, r.firsts, r.offs = r.buf[:0], r.firsts[:0], append(r.offs[:0], 0)
}

// ScanAll implements eventstore.Scanner. It copies a run of chunks out of
// pebble under the read lock, lets go of the lock, and decodes each event
// in place for fn: no allocation per event, and fn may call the store.
func (s *Store) ScanAll(ctx context.Context, from, to uint64, fn func(*eventstore.RecordedEvent) error) error {
	fail := func(err error) error {
		return &eventstore.Error{Op: "scan", Stream: eventstore.AllStream, Err: s.readErr(err)}
	}
	if err := s.readCheck(ctx, "scan", eventstore.AllStream); err != nil {
		return err
	}
	lo, hi := max(from, 1), min(to, s.durable.Load())
	var run scanRun
	var ev eventstore.RecordedEvent
	for lo <= hi {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		if err := s.copyChunks(lo, hi, &run); err != nil {
			return fail(err)
		}
		start := lo
		for i, first := range run.firsts {
			c, err := newChunkReader(first, run.buf[run.offs[i]:run.offs[i+1]])
			if err != nil {
				return fail(fmt.Errorf("chunk at position %d: %w", first, err))
			}
			for {
				rec, pos, more, err := c.next()
				if err != nil {
					return fail(fmt.Errorf("chunk at position %d: %w", first, err))
				}
				if !more || pos > hi {
					break
				}
				if pos < lo {
					continue
				}
				if err := decodeRecord(rec, pos, &ev); err != nil { // sets every field
					return fail(fmt.Errorf("event at position %d: %w", pos, err))
				}
				if err := fn(&ev); err != nil {
					return err
				}
				lo = pos + 1
			}
		}
		if lo == start { // positions have no holes: some chunk must hold lo
			return fail(fmt.Errorf("no chunk holds position %d: %w", lo, errCorrupt))
		}
	}
	return nil
}

// copyChunks replaces run with copies of the chunks from the one holding
// lo onwards, up to about scanBytes and not past the one holding hi.
func (s *Store) copyChunks(lo, hi uint64, run *scanRun) (err error) {
	defer s.recoverRead(&err)
	s.readMu.RLock()
	defer s.readMu.RUnlock()
	if s.dbClosed {
		return eventstore.ErrClosed
	}
	run.reset()
	it, err := s.chunks(hi)
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := seekForward(it, lo, &s.chunkHint); ok && len(run.buf) < scanBytes; ok = it.Next() {
		first := decodePos(it.Key())
		if first > hi {
			break
		}
		c, val, err := currentChunk(it)
		if err != nil {
			return err
		}
		last := c.last()
		s.chunkHint.Store(chunkHint(first, last-first+1))
		if last < lo {
			continue
		}
		run.buf = append(run.buf, val...)
		run.firsts = append(run.firsts, first)
		run.offs = append(run.offs, len(run.buf))
		if last >= hi {
			break
		}
	}
	return it.Error()
}
