package postgres

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/videologue/videologue/eventstore"
)

type appendReq struct {
	ctx      context.Context
	stream   string
	expected eventstore.ExpectedRevision
	events   []eventstore.EventData
	size     int
	result   eventstore.AppendResult
	err      error
	done     chan struct{}
}

func (r *appendReq) finish(res eventstore.AppendResult, err error) {
	r.result, r.err = res, err
	close(r.done)
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	fail := func(err error) (eventstore.AppendResult, error) {
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Err: err}
	}
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return fail(err)
	}
	size := 0
	for i := range events {
		// PostgreSQL text cannot hold NUL; stream names never do.
		if strings.IndexByte(events[i].ID, 0) >= 0 || strings.IndexByte(events[i].Type, 0) >= 0 {
			return fail(fmt.Errorf("event %d: NUL in its id or type: %w", i, eventstore.ErrInvalidEvent))
		}
		size += events[i].Size()
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	req := &appendReq{ctx: ctx, stream: stream, expected: expected, events: events, size: size, done: make(chan struct{})}
	s.mu.RLock()
	if s.closing {
		s.mu.RUnlock()
		return fail(eventstore.ErrClosed)
	}
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		s.mu.RUnlock()
		return fail(ctx.Err())
	}
	s.mu.RUnlock()
	// Once handed over, the outcome is decided within one group commit; we
	// wait for it even if ctx ends, so that "error" always means "not
	// written".
	<-req.done
	if req.err != nil {
		return fail(req.err)
	}
	return req.result, nil
}

// run is the committer's loop: it takes every pending append, up to the
// group limits, and commits them together.
func (c *committer) run(ctx context.Context) {
	defer c.drop(ctx)
	cfg := c.s.cfg
	for first := range c.s.reqs {
		// The appenders just answered are about to append again: yield
		// while they keep arriving, so that they join this group and its
		// WAL flush instead of waiting for the next whole group (like
		// eventstore/pebble's committer). A group's two round trips and
		// its flush, under the head lock, cost the same whatever its size.
		for n, idle := len(c.s.reqs), 0; idle < 2 && n < cfg.MaxGroupEvents; {
			runtime.Gosched()
			if m := len(c.s.reqs); m > n {
				n, idle = m, 0
			} else {
				idle++
			}
		}
		group := []*appendReq{first}
		events, bytes := len(first.events), first.size
	gather:
		for events < cfg.MaxGroupEvents && bytes < cfg.MaxGroupBytes {
			select {
			case r, ok := <-c.s.reqs:
				if !ok {
					break gather
				}
				group = append(group, r)
				events += len(r.events)
				bytes += r.size
			default:
				break gather
			}
		}
		c.commit(ctx, group)
	}
}
