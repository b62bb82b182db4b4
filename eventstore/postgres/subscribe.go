package postgres

import (
	"context"

	"github.com/videologue/videologue/eventstore"
)

// SubscribeToAll implements eventstore.Store.
func (s *Store) SubscribeToAll(ctx context.Context, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error) {
	if err := s.readCheck(ctx, "subscribe", eventstore.AllStream); err != nil {
		return nil, err
	}
	return eventstore.Subscribe(ctx, eventstore.Feed{
		Stream: eventstore.AllStream,
		Page: func(ctx context.Context, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
			return s.readAll(ctx, eventstore.Forwards, from, limit)
		},
		Last: func(ctx context.Context) (uint64, bool, error) {
			var head int64
			if err := s.pool.QueryRow(ctx, s.q.readHead).Scan(&head); err != nil {
				return 0, false, s.cause(ctx, err)
			}
			return uint64(head), head > 0, nil
		},
		Signal: s.signal,
		Closed: s.closed,
	}, from, opts)
}

// SubscribeToStream implements eventstore.Store.
func (s *Store) SubscribeToStream(ctx context.Context, stream string, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error) {
	if err := s.readCheck(ctx, "subscribe", stream); err != nil {
		return nil, err
	}
	if err := eventstore.ValidateStream(stream); err != nil {
		return nil, &eventstore.Error{Op: "subscribe", Stream: stream, Err: err}
	}
	return eventstore.Subscribe(ctx, eventstore.Feed{
		Stream: stream,
		Page: func(ctx context.Context, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
			return s.readStream(ctx, stream, eventstore.Forwards, from, limit)
		},
		Last: func(ctx context.Context) (uint64, bool, error) {
			evs, err := s.readStream(ctx, stream, eventstore.Backwards, eventstore.End, 1)
			if err != nil {
				return 0, false, s.cause(ctx, err)
			}
			if len(evs) == 0 {
				return 0, false, nil
			}
			return evs[0].Revision, true, nil
		},
		Signal: s.signal,
		Closed: s.closed,
	}, from, opts)
}
