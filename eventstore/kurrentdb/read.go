package kurrentdb

import (
	"context"
	"math"
	"slices"

	"github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"

	"github.com/videologue/videologue/eventstore"
)

// ReadStream reads the KurrentDB stream of stream.
func (s *Store) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := eventstore.ValidateStream(stream); err != nil {
		return nil, &eventstore.Error{Op: "read", Stream: stream, Err: err}
	}
	done, err := s.begin()
	if err != nil {
		return nil, s.opError(ctx, "read", stream, err)
	}
	defer done()
	rctx, cancel := s.readContext(ctx)
	defer cancel()
	evs, err := s.readStream(rctx, stream, dir, from, limit)
	if err != nil {
		return nil, s.opError(ctx, "read", stream, err)
	}
	return evs, nil
}

func (s *Store) readStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	name := s.name(stream)
	kdir := kurrentdb.Forwards
	var start kurrentdb.StreamPosition = kurrentdb.Revision(from)
	switch {
	case dir == eventstore.Forwards && from > math.MaxInt64:
		return nil, nil // no stream reaches there; End included
	case dir == eventstore.Backwards:
		kdir = kurrentdb.Backwards
		if from > math.MaxInt64 {
			start = kurrentdb.End{}
		}
	}
	evs, err := s.readKurrentStream(ctx, name, kdir, start, uint64(limit))
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 && kdir == kurrentdb.Backwards && from <= math.MaxInt64 {
		// Backwards from past the last revision means from the last one;
		// do not rely on the server to clamp.
		if evs, err = s.readKurrentStream(ctx, name, kdir, kurrentdb.End{}, uint64(limit)); err != nil {
			return nil, err
		}
		evs = slices.DeleteFunc(evs, func(ev *kurrentdb.RecordedEvent) bool { return ev.EventNumber > from })
	}
	xs := make([]raw, 0, len(evs))
	for _, ev := range evs {
		if x, ok := s.decode(ev); ok {
			xs = append(xs, x)
		}
	}
	return s.newResolver().events(ctx, xs)
}

// ReadAll reads $all, this store's streams only. Forwards it reads from
// the start of the append that from falls in; backwards it reads the part
// of that append up to from, then the log before the append (see the
// package comment).
func (s *Store) ReadAll(ctx context.Context, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	done, err := s.begin()
	if err != nil {
		return nil, s.opError(ctx, "read", eventstore.AllStream, err)
	}
	defer done()
	rctx, cancel := s.readContext(ctx)
	defer cancel()
	var evs []eventstore.RecordedEvent
	if dir == eventstore.Backwards {
		evs, err = s.readAllBackwards(rctx, from, limit)
	} else {
		evs, err = s.readAllForwards(rctx, from, limit)
	}
	if err != nil {
		return nil, s.opError(ctx, "read", eventstore.AllStream, err)
	}
	return evs, nil
}

func (s *Store) readAllForwards(ctx context.Context, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 || from == eventstore.End {
		return nil, nil
	}
	start, _ := unpack(from)
	if start < s.floor {
		start = s.floor
	}
	evs, err := s.collectForwards(ctx, start, from, limit, eventstore.End)
	if err != nil && invalidPosition(err) && start != s.floor {
		// from was not a position of this store (its append start is
		// no record boundary): scan from the floor instead.
		evs, err = s.collectForwards(ctx, s.floor, from, limit, eventstore.End)
	}
	return evs, err
}

// collectForwards scans $all forwards from KurrentDB log position start
// and returns at most limit events with positions from lo to hi.
func (s *Store) collectForwards(ctx context.Context, start, lo uint64, limit int, hi uint64) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	r := s.newResolver()
	err := s.scanForwards(ctx, start, func(page []raw) (bool, error) {
		r.note(page...)
		for _, x := range page {
			ev, err := r.event(ctx, x)
			if err != nil {
				return false, err
			}
			if ev.Position > hi {
				return false, nil
			}
			if ev.Position < lo {
				continue
			}
			out = append(out, ev)
			if len(out) == limit {
				return false, nil
			}
		}
		return true, nil
	})
	return out, err
}

func (s *Store) readAllBackwards(ctx context.Context, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	if from == eventstore.End || s.signal != nil && from >= s.signal.Head() {
		return s.collectBackwards(ctx, nil, from, limit)
	}
	// The events up to from are those before log position b, plus those
	// at b or later that belong to appends starting at or before the
	// append of from (only that append, normally).
	base, index := unpack(from)
	b := base
	if index == indexMask { // one before the first event of the next append
		b = base + 1
	}
	if b <= s.floor {
		top, err := s.collectForwards(ctx, s.floor, 0, math.MaxInt, from)
		if err != nil {
			return nil, err
		}
		slices.Reverse(top)
		return top[:min(len(top), limit)], nil
	}
	top, err := s.collectForwards(ctx, b, 0, math.MaxInt, from)
	if invalidPosition(err) {
		return s.collectBackwards(ctx, nil, from, limit)
	}
	if err != nil {
		return nil, err
	}
	slices.Reverse(top)
	if len(top) >= limit {
		return top[:limit], nil
	}
	out, err := s.collectBackwards(ctx, &kurrentdb.Position{Commit: b, Prepare: b}, from, limit-len(top))
	if invalidPosition(err) {
		return s.collectBackwards(ctx, nil, from, limit)
	}
	if err != nil {
		return nil, err
	}
	return append(top, out...), nil
}

// collectBackwards scans $all backwards from before KurrentDB position
// start (the end when nil) and returns at most limit events with positions
// up to hi, newest first.
func (s *Store) collectBackwards(ctx context.Context, start *kurrentdb.Position, hi uint64, limit int) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	r := s.newResolver()
	err := s.scanBackwards(ctx, start, func(page []raw) (bool, error) {
		evs, err := r.events(ctx, page)
		if err != nil {
			return false, err
		}
		for _, ev := range evs {
			if ev.Position > hi {
				continue
			}
			out = append(out, ev)
			if len(out) == limit {
				return false, nil
			}
		}
		return true, nil
	})
	return out, err
}

// scanForwards reads $all forwards from KurrentDB log position start
// (inclusive), a page at a time, and hands visit the events of this store
// in each page until visit returns false or the log ends.
func (s *Store) scanForwards(ctx context.Context, start uint64, visit func([]raw) (bool, error)) error {
	var from kurrentdb.AllPosition = kurrentdb.Start{}
	if start > 0 {
		from = kurrentdb.Position{Commit: start, Prepare: start}
	}
	var last *kurrentdb.Position
	for {
		evs, err := s.readKurrentAll(ctx, kurrentdb.Forwards, from, uint64(s.cfg.ScanPage))
		if err != nil {
			return err
		}
		page := make([]raw, 0, len(evs))
		for _, ev := range evs {
			if last != nil && !after(ev.Position, *last) {
				continue // a page starts with the event the last one ended with
			}
			if x, ok := s.decode(ev); ok {
				page = append(page, x)
			}
		}
		if len(page) > 0 {
			if more, err := visit(page); err != nil || !more {
				return err
			}
		}
		if len(evs) < s.cfg.ScanPage {
			return nil
		}
		p := evs[len(evs)-1].Position
		last, from = &p, p
	}
}

// scanBackwards reads $all backwards from before KurrentDB position start
// (from the end when nil), a page at a time, and hands visit the events of
// this store in each page until visit returns false or the scan passes the
// floor, before which the store has no events.
func (s *Store) scanBackwards(ctx context.Context, start *kurrentdb.Position, visit func([]raw) (bool, error)) error {
	var from kurrentdb.AllPosition = kurrentdb.End{}
	if start != nil {
		from = *start
	}
	for {
		evs, err := s.readKurrentAll(ctx, kurrentdb.Backwards, from, uint64(s.cfg.ScanPage))
		if err != nil {
			return err
		}
		page := make([]raw, 0, len(evs))
		below := false
		for _, ev := range evs {
			if ev.Position.Commit < s.floor {
				below = true
				break
			}
			if x, ok := s.decode(ev); ok {
				page = append(page, x)
			}
		}
		if len(page) > 0 {
			if more, err := visit(page); err != nil || !more {
				return err
			}
		}
		if below || len(evs) < s.cfg.ScanPage {
			return nil
		}
		from = evs[len(evs)-1].Position
	}
}

// lastOfServer is the KurrentDB log position of the last event of the
// whole server, 0 when there is none.
func (s *Store) lastOfServer(ctx context.Context) (uint64, error) {
	evs, err := s.readKurrentAll(ctx, kurrentdb.Backwards, kurrentdb.End{}, 1)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	return evs[0].Position.Commit, nil
}

// findFloor returns a KurrentDB log position before which the store has
// no event: that of its first event, found by a subscription to $all
// filtered on the server, or last (the end of the log when Open started)
// when the store has none yet: whatever is appended later lands after it.
func (s *Store) findFloor(ctx context.Context, last uint64) (uint64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := s.client.SubscribeToAll(ctx, kurrentdb.SubscribeToAllOptions{From: kurrentdb.Start{}, Filter: s.filter()})
	if err != nil {
		return 0, err
	}
	defer sub.Close()
	for {
		m := sub.Recv()
		switch {
		case m.SubscriptionDropped != nil:
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, m.SubscriptionDropped.Error
		case m.EventAppeared != nil:
			ev := m.EventAppeared.OriginalEvent()
			if _, ok := s.decode(ev); ok {
				return min(ev.Position.Commit, last), nil
			}
		case m.CheckPointReached != nil:
		default:
			// Caught up. The client leaves CaughtUp nil when the server's
			// message carries no timestamp, so any message that is none of
			// the others is it (FellBehind only follows going live).
			return last, nil
		}
	}
}
