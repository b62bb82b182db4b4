package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/videologue/videologue/eventstore"
)

// maxReadLimit bounds one read, whatever the caller asks.
const maxReadLimit = 1 << 16

func decodePos(k []byte) uint64 { return binary.BigEndian.Uint64(k[1:9]) }

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

// pager accumulates decoded events; records are copied into one buffer per
// page so that events may alias it.
type pager struct {
	arena  []byte
	events []eventstore.RecordedEvent
	sizes  []int
}

func (p *pager) add(pos uint64, val []byte) {
	p.arena = append(p.arena, val...)
	p.sizes = append(p.sizes, len(val))
	p.events = append(p.events, eventstore.RecordedEvent{Position: pos})
}

// finish decodes every record against the final arena (which append may
// have moved while growing).
func (p *pager) finish() ([]eventstore.RecordedEvent, error) {
	off := 0
	for i := range p.events {
		rec := p.arena[off : off+p.sizes[i] : off+p.sizes[i]]
		off += p.sizes[i]
		if err := decodeRecord(rec, p.events[i].Position, &p.events[i]); err != nil {
			return nil, fmt.Errorf("event at position %d: %w", p.events[i].Position, err)
		}
	}
	return p.events, nil
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
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: eventKey(lo), UpperBound: eventKey(hi + 1)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	p := pager{arena: make([]byte, 0, min(limit, 512)*256), events: make([]eventstore.RecordedEvent, 0, min(limit, 512))}
	valid := it.First
	next := it.Next
	if dir == eventstore.Backwards {
		valid, next = it.Last, it.Prev
	}
	for ok := valid(); ok && len(p.events) < limit; ok = next() {
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		p.add(decodePos(it.Key()), val)
	}
	if err := it.Error(); err != nil {
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

func (s *Store) readStream(stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	limit = min(limit, maxReadLimit)
	head := s.durable.Load()
	if limit <= 0 || head == 0 {
		return nil, nil
	}
	prefix := streamPrefix(stream)
	opts := &pebble.IterOptions{LowerBound: prefix, UpperBound: streamKey(stream, ^uint64(0))}
	if dir == eventstore.Forwards {
		opts.LowerBound = streamKey(stream, from)
	} else if from != eventstore.End {
		opts.UpperBound = streamKey(stream, from+1)
	}
	it, err := s.db.NewIter(opts)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	p := pager{arena: make([]byte, 0, min(limit, 512)*256), events: make([]eventstore.RecordedEvent, 0, min(limit, 512))}
	valid, next := it.First, it.Next
	if dir == eventstore.Backwards {
		valid, next = it.Last, it.Prev
	}
	for ok := valid(); ok && len(p.events) < limit; ok = next() {
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		if len(val) != 8 {
			return nil, errors.New("corrupt stream index entry")
		}
		pos := binary.BigEndian.Uint64(val)
		if pos > head { // not yet durable: invisible, as is all after it
			if dir == eventstore.Forwards {
				break
			}
			continue
		}
		rec, closer, err := s.db.Get(eventKey(pos))
		if err != nil {
			return nil, fmt.Errorf("event at position %d of the index: %w", pos, err)
		}
		p.add(pos, rec)
		closer.Close()
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	return p.finish()
}
