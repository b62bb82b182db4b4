package pebble

import (
	"context"
	"fmt"

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

// pager accumulates the records of a read. They are copied out of pebble's
// buffers into one arena that is never written again, and decoded only at
// the end, so that events may alias the arena (which append may move while
// it grows).
type pager struct {
	arena []byte
	pos   []uint64
	ends  []int
	limit int
}

func newPager(limit int) *pager {
	n := min(limit, 4096)
	return &pager{arena: make([]byte, 0, n*320), pos: make([]uint64, 0, n), ends: make([]int, 0, n), limit: limit}
}

func (p *pager) full() bool { return len(p.pos) >= p.limit }

func (p *pager) add(pos uint64, rec []byte) {
	p.arena = append(p.arena, rec...)
	p.pos = append(p.pos, pos)
	p.ends = append(p.ends, len(p.arena))
}

func (p *pager) finish() ([]eventstore.RecordedEvent, error) {
	if len(p.pos) == 0 {
		return nil, nil
	}
	events := make([]eventstore.RecordedEvent, len(p.pos))
	start := 0
	for i, end := range p.ends {
		if err := decodeRecord(p.arena[start:end:end], p.pos[i], &events[i]); err != nil {
			return nil, fmt.Errorf("event at position %d: %w", p.pos[i], err)
		}
		start = end
	}
	return events, nil
}

// chunks iterates the event chunks up to and including position hi.
func (s *Store) chunks(hi uint64) (*pebble.Iterator, error) {
	return s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixEvent}, UpperBound: eventKey(hi + 1)})
}

// scan adds to p the events with positions in [lo, hi], in direction dir,
// until p is full. it must be a chunks iterator bounded at or above hi.
func scan(it *pebble.Iterator, lo, hi uint64, dir eventstore.Direction, p *pager) error {
	if lo > hi {
		return nil
	}
	// The chunk holding the first wanted position starts at or before it.
	start := hi
	if dir == eventstore.Forwards {
		start = lo
	}
	ok := it.SeekLT(eventKey(start + 1))
	if !ok && dir == eventstore.Forwards {
		ok = it.First()
	}
	for ; ok && !p.full(); ok = step(it, dir) {
		first := decodePos(it.Key())
		if dir == eventstore.Forwards && first > hi {
			break
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		c, err := newChunkReader(first, val)
		if err != nil {
			return fmt.Errorf("chunk at position %d: %w", first, err)
		}
		if dir == eventstore.Backwards && c.last() < lo {
			break
		}
		if dir == eventstore.Forwards {
			for !p.full() {
				rec, pos, more, err := c.next()
				if err != nil {
					return fmt.Errorf("chunk at position %d: %w", first, err)
				}
				if !more || pos > hi {
					break
				}
				if pos >= lo {
					p.add(pos, rec)
				}
			}
			if c.last() >= hi {
				break
			}
			continue
		}
		// Backwards: collect the chunk's wanted records, then add them
		// newest first.
		recs := make([][]byte, 0, c.left)
		var poss []uint64
		for {
			rec, pos, more, err := c.next()
			if err != nil {
				return fmt.Errorf("chunk at position %d: %w", first, err)
			}
			if !more || pos > hi {
				break
			}
			if pos >= lo {
				recs = append(recs, rec)
				poss = append(poss, pos)
			}
		}
		for i := len(recs) - 1; i >= 0 && !p.full(); i-- {
			p.add(poss[i], recs[i])
		}
		if first <= lo {
			break
		}
	}
	return it.Error()
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
		return nil, &eventstore.Error{Op: "read", Stream: eventstore.AllStream, Err: err}
	}
	return events, nil
}

func (s *Store) readAll(dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
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
	p := newPager(min(limit, int(min(hi-lo+1, maxReadLimit))))
	if err := scan(it, lo, hi, dir, p); err != nil {
		return nil, err
	}
	return p.finish()
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
		return nil, &eventstore.Error{Op: "read", Stream: stream, Err: err}
	}
	return events, nil
}

// readStream walks the stream's index entries (one per append) and reads
// each entry's run of positions from the chunks.
func (s *Store) readStream(stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
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
	p := newPager(min(limit, 64))
	p.limit = limit
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
		if err := scan(ev, lo, hi, dir, p); err != nil {
			return nil, err
		}
	}
	if err := idx.Error(); err != nil {
		return nil, err
	}
	return p.finish()
}

// lastIndexEntry returns the stream's last append, durable or not.
func (s *Store) lastIndexEntry(stream string) (indexEntry, bool, error) {
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
