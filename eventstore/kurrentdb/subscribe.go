package kurrentdb

import (
	"context"
	"math"
	"math/bits"
	"time"

	"github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"

	"github.com/videologue/videologue/eventstore"
)

// defaultMaxLag is eventstore.SubscribeOptions' default MaxLag, read here
// as a number of events.
const defaultMaxLag = 1 << 16

// SubscribeToStream runs the shared catch-up engine over ReadStream, woken
// by the store's follower of $all.
func (s *Store) SubscribeToStream(ctx context.Context, stream string, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error) {
	if err := eventstore.ValidateStream(stream); err != nil {
		return nil, &eventstore.Error{Op: "subscribe", Stream: stream, Err: err}
	}
	return s.subscribe(ctx, eventstore.Feed{
		Stream: stream,
		Page: func(ctx context.Context, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
			return s.page(ctx, func(ctx context.Context) ([]eventstore.RecordedEvent, error) {
				return s.readStream(ctx, stream, eventstore.Forwards, from, limit)
			})
		},
		Last: func(ctx context.Context) (uint64, bool, error) {
			evs, err := s.page(ctx, func(ctx context.Context) ([]eventstore.RecordedEvent, error) {
				return s.readStream(ctx, stream, eventstore.Backwards, eventstore.End, 1)
			})
			if err != nil || len(evs) == 0 {
				return 0, false, err
			}
			return evs[0].Revision, true, nil
		},
	}, from, opts)
}

// SubscribeToAll runs the shared catch-up engine over ReadAll, woken by the
// store's follower of $all.
func (s *Store) SubscribeToAll(ctx context.Context, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error) {
	return s.subscribe(ctx, eventstore.Feed{
		Stream: eventstore.AllStream,
		Page: func(ctx context.Context, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
			return s.page(ctx, func(ctx context.Context) ([]eventstore.RecordedEvent, error) {
				return s.readAllForwards(ctx, from, limit)
			})
		},
		Last: func(ctx context.Context) (uint64, bool, error) {
			evs, err := s.page(ctx, func(ctx context.Context) ([]eventstore.RecordedEvent, error) {
				return s.readAllBackwards(ctx, eventstore.End, 1)
			})
			if err != nil || len(evs) == 0 {
				return 0, false, err
			}
			return evs[0].Position, true, nil
		},
	}, from, opts)
}

func (s *Store) subscribe(ctx context.Context, f eventstore.Feed, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error) {
	if s.isClosed() {
		return nil, &eventstore.Error{Op: "subscribe", Stream: f.Stream, Err: eventstore.ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return nil, &eventstore.Error{Op: "subscribe", Stream: f.Stream, Err: err}
	}
	f.Signal, f.Closed = s.signal, s.closed
	// MaxLag counts positions, and a position here advances by
	// AvgEventBytes<<16 or so per event: scale the caller's count.
	if opts.MaxLag == 0 {
		opts.MaxLag = defaultMaxLag
	}
	hi, lo := bits.Mul64(opts.MaxLag, uint64(s.cfg.AvgEventBytes)<<indexBits)
	opts.MaxLag = lo
	if hi != 0 {
		opts.MaxLag = math.MaxUint64
	}
	return eventstore.Subscribe(ctx, f, from, opts)
}

// page runs one read of a subscription as a store operation: refused once
// the store closes, and cancelled by its closing.
func (s *Store) page(ctx context.Context, read func(context.Context) ([]eventstore.RecordedEvent, error)) ([]eventstore.RecordedEvent, error) {
	done, err := s.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	rctx, cancel := s.readContext(ctx)
	defer cancel()
	evs, err := read(rctx)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// The engine ends quietly on its context's error, not on what the
		// client made of it (a gRPC status).
		err = ctx.Err()
	case s.isClosed():
		err = eventstore.ErrClosed
	}
	return evs, err
}

// liveSub is the follower's subscription to $all.
type liveSub struct {
	sub    *kurrentdb.Subscription
	cancel context.CancelFunc
}

func (l *liveSub) close() {
	_ = l.sub.Close()
	l.cancel()
}

// subscribeLive subscribes to what $all receives from now on, filtered on
// the server to this store's streams. ctx bounds the subscribing; the
// subscription lasts until it is closed or the store closes.
func (s *Store) subscribeLive(ctx context.Context) (*liveSub, error) {
	lctx, cancel := context.WithCancel(s.life)
	stop := context.AfterFunc(ctx, cancel)
	sub, err := s.client.SubscribeToAll(lctx, kurrentdb.SubscribeToAllOptions{From: kurrentdb.End{}, Filter: s.filter()})
	if !stop() && err == nil {
		_ = sub.Close()
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		return nil, err
	}
	return &liveSub{sub: sub, cancel: cancel}, nil
}

// follow advances the store's Signal with each event of this store that
// $all receives, from any node, until ctx ends. The Signal only wakes
// subscriptions, which read what is new themselves; so when the live
// subscription breaks, follow wakes them all, resubscribes, and wakes them
// again, and nothing appended meanwhile is missed.
func (s *Store) follow(ctx context.Context, live *liveSub) {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	for {
		if live != nil {
			s.followLive(ctx, live.sub)
			live.close()
			live = nil
		}
		s.signal.Advance(s.signal.Head())
		if ctx.Err() != nil {
			return
		}
		sub, err := s.subscribeLive(ctx)
		if err == nil {
			live, backoff = sub, minBackoff
			s.signal.Advance(s.signal.Head())
			continue
		}
		if ctx.Err() == nil {
			s.logger.Warn("KurrentDB: following $all failed; retrying", "error", err, "in", backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// followLive reads live until it drops.
func (s *Store) followLive(ctx context.Context, live *kurrentdb.Subscription) {
	r := s.newResolver()
	for {
		m := live.Recv()
		switch {
		case m.SubscriptionDropped != nil:
			if ctx.Err() == nil {
				s.logger.Warn("KurrentDB: the subscription following $all dropped; resubscribing", "error", m.SubscriptionDropped.Error)
			}
			return
		case m.EventAppeared != nil:
			x, ok := s.decode(m.EventAppeared.OriginalEvent())
			if !ok {
				continue
			}
			r.note(x)
			ev, err := r.event(ctx, x)
			if err != nil {
				// Wake the subscriptions anyway: they read the event
				// themselves, and report what is wrong with it.
				s.signal.Advance(s.signal.Head())
				continue
			}
			s.signal.Advance(ev.Position)
			if len(r.bases) > 1024 {
				r.bases = map[baseKey]uint64{}
			}
		}
	}
}
