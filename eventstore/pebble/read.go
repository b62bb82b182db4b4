package pebble

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/videologue/videologue/eventstore"
)

// maxReadLimit bounds one read, whatever the caller asks.
const maxReadLimit = 1 << 16

func (s *Store) readCheck(ctx context.Context, op, stream string) error {
	if err := ctx.Err(); err != nil {
		return &eventstore.Error{Op: op, Stream: stream, Err: err}
	}
	select {
	case <-s.closed:
		return &eventstore.Error{Op: op, Stream: stream, Err: eventstore.ErrClosed}
	default:
		return nil
	}
}

// chunks iterates the event chunks up to and including position hi.
func (s *Store) chunks(hi uint64) (*pebble.Iterator, error) {
	return s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixEvent}, UpperBound: eventKey(hi + 1)})
}

// chunkHint packs a chunk's first position and event count into one word,
// or gives 0 when they do not fit.
func chunkHint(first, count uint64) uint64 {
	if first >= 1<<48 || count >= 1<<16 {
		return 0
	}
	return first<<16 | count
}

// seekHint positions it on the chunk holding position lo by a forward
// seek, using hint: the chunk where a forward read last ended. A reader
// paging through the log starts its next page in that chunk or in the
// next one. Chunks never change once written, so a hint stays true.
func seekHint(it *pebble.Iterator, lo, hint uint64) bool {
	first, count := hint>>16, hint&0xffff
	var target uint64
	switch {
	case hint == 0:
		return false
	case first <= lo && lo < first+count:
		target = first
	case lo == first+count:
		target = lo
	default:
		return false
	}
	return it.SeekGE(eventKey(target)) && decodePos(it.Key()) == target
}

// scan adds to p the events with positions in [lo, hi], in direction dir,
// until p is full. it must be a chunks iterator bounded at or above hi.
// hint, when not nil, is read and updated as seekHint says.
func scan(it *pebble.Iterator, lo, hi uint64, dir eventstore.Direction, p *pager, hint *atomic.Uint64) error {
	if lo > hi {
		return nil
	}
	// The chunk holding the first wanted position starts at or before it.
	// A backward seek finds it, but costs pebble a copy of the chunk (and
	// a change of direction): take the hint when it holds.
	var ok bool
	if dir == eventstore.Forwards {
		ok = seekForward(it, lo, hint)
	} else {
		ok = it.SeekLT(eventKey(hi + 1))
	}
	for ; ok && !p.full(); ok = step(it, dir) {
		first := decodePos(it.Key())
		if dir == eventstore.Forwards && first > hi {
			break
		}
		c, _, err := currentChunk(it)
		if err != nil {
			return err
		}
		last := c.last()
		if dir == eventstore.Backwards && last < lo {
			break
		}
		if dir == eventstore.Forwards && hint != nil {
			hint.Store(chunkHint(first, last-first+1))
		}
		if err := p.chunk(&c, lo, hi, dir); err != nil {
			return fmt.Errorf("chunk at position %d: %w", first, err)
		}
		if (dir == eventstore.Forwards && last >= hi) || (dir == eventstore.Backwards && first <= lo) {
			break
		}
	}
	return it.Error()
}

// seekForward positions it on the chunk holding position lo (the first
// chunk if lo is below it), by the hint when it holds (see seekHint).
func seekForward(it *pebble.Iterator, lo uint64, hint *atomic.Uint64) bool {
	if hint != nil && seekHint(it, lo, hint.Load()) {
		return true
	}
	return it.SeekLT(eventKey(lo+1)) || it.First()
}

// currentChunk returns a reader of the chunk it is on, and the chunk,
// which is valid until it moves.
func currentChunk(it *pebble.Iterator) (chunkReader, []byte, error) {
	first := decodePos(it.Key())
	val, err := it.ValueAndErr()
	if err != nil {
		return chunkReader{}, nil, err
	}
	c, err := newChunkReader(first, val)
	if err != nil {
		return chunkReader{}, nil, fmt.Errorf("chunk at position %d: %w", first, err)
	}
	return c, val, nil
}

func step(it *pebble.Iterator, dir eventstore.Direction) bool {
	if dir == eventstore.Backwards {
		return it.Prev()
	}
	return it.Next()
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := s.readCheck(ctx, "read", eventstore.AllStream); err != nil {
		return nil, err
	}
	events, err := s.readAll(dir, from, limit)
	if err != nil {
		return nil, &eventstore.Error{Op: "read", Stream: eventstore.AllStream, Err: s.readErr(err)}
	}
	return events, nil
}

func (s *Store) readAll(dir eventstore.Direction, from uint64, limit int) (_ []eventstore.RecordedEvent, err error) {
	defer s.recoverRead(&err)
	s.readMu.RLock()
	defer s.readMu.RUnlock()
	if s.dbClosed {
		return nil, eventstore.ErrClosed
	}
	limit = min(limit, maxReadLimit)
	head := s.durable.Load()
	if limit <= 0 || head == 0 {
		return nil, nil
	}
	lo, hi := uint64(1), head
	if dir == eventstore.Forwards {
		lo = max(from, 1)
	} else {
		hi = min(from, head)
	}
	if lo > hi {
		return nil, nil
	}
	it, err := s.chunks(head)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	// Positions have no holes: the read returns exactly this many events.
	n := int(min(hi-lo+1, uint64(limit)))
	p := newPager(n, n)
	if err := scan(it, lo, hi, dir, p, &s.chunkHint); err != nil {
		return nil, err
	}
	return p.finish(), nil
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := s.readCheck(ctx, "read", stream); err != nil {
		return nil, err
	}
	if err := eventstore.ValidateStream(stream); err != nil {
		return nil, &eventstore.Error{Op: "read", Stream: stream, Err: err}
	}
	events, err := s.readStream(stream, dir, from, limit)
	if err != nil {
		return nil, &eventstore.Error{Op: "read", Stream: stream, Err: s.readErr(err)}
	}
	return events, nil
}

// readStream walks the stream's index entries (one per append) and reads
// each entry's run of positions from the chunks.
func (s *Store) readStream(stream string, dir eventstore.Direction, from uint64, limit int) (_ []eventstore.RecordedEvent, err error) {
	defer s.recoverRead(&err)
	s.readMu.RLock()
	defer s.readMu.RUnlock()
	if s.dbClosed {
		return nil, eventstore.ErrClosed
	}
	limit = min(limit, maxReadLimit)
	head := s.durable.Load()
	if limit <= 0 || head == 0 {
		return nil, nil
	}
	prefix := streamPrefix(stream)
	idx, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: streamKey(stream, ^uint64(0))})
	if err != nil {
		return nil, err
	}
	defer idx.Close()
	ev, err := s.chunks(head)
	if err != nil {
		return nil, err
	}
	defer ev.Close()
	// A live subscription reads its stream at every commit to any stream,
	// and mostly finds nothing new or one event: expect few, and let a
	// long read grow the page.
	p := newPager(limit, 4)
	var ok bool
	if dir == eventstore.Forwards {
		// The entry holding revision from starts at or before it.
		if ok = idx.SeekLT(streamKey(stream, from+1)); !ok {
			ok = idx.First()
		}
		if from == eventstore.End {
			ok = false
		}
	} else if from == eventstore.End {
		ok = idx.Last()
	} else {
		ok = idx.SeekLT(streamKey(stream, from+1))
	}
	for ; ok && !p.full(); ok = step(idx, dir) {
		e, err := decodeIndex(idx.Key(), idx.Value())
		if err != nil {
			return nil, err
		}
		if e.firstPos > head { // not yet durable, nor anything after it
			if dir == eventstore.Forwards {
				break
			}
			continue
		}
		lo, hi := e.firstPos, e.firstPos+e.count-1
		if dir == eventstore.Forwards && from > e.firstRev {
			if from > e.lastRev() {
				continue
			}
			lo += from - e.firstRev
		}
		if dir == eventstore.Backwards && from < e.lastRev() {
			if from < e.firstRev {
				continue
			}
			hi -= e.lastRev() - from
		}
		if err := scan(ev, lo, hi, dir, p, nil); err != nil {
			return nil, err
		}
	}
	if err := idx.Error(); err != nil {
		return nil, err
	}
	return p.finish(), nil
}

// lastIndexEntry returns the stream's last append, durable or not.
func (s *Store) lastIndexEntry(stream string) (_ indexEntry, _ bool, err error) {
	defer s.recoverRead(&err)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: streamPrefix(stream), UpperBound: streamKey(stream, ^uint64(0))})
	if err != nil {
		return indexEntry{}, false, err
	}
	defer it.Close()
	if !it.Last() {
		return indexEntry{}, false, it.Error()
	}
	e, err := decodeIndex(it.Key(), it.Value())
	return e, err == nil, err
}
