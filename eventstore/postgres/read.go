package postgres

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/videologue/videologue/eventstore"
)

// maxReadLimit bounds one read, whatever the caller asks.
const maxReadLimit = 1 << 16

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := s.readCheck(ctx, "read", eventstore.AllStream); err != nil {
		return nil, err
	}
	events, err := s.readAll(ctx, dir, from, limit)
	if err != nil {
		return nil, s.readError(ctx, "read", eventstore.AllStream, err)
	}
	return events, nil
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := s.readCheck(ctx, "read", stream); err != nil {
		return nil, err
	}
	if err := eventstore.ValidateStream(stream); err != nil {
		return nil, &eventstore.Error{Op: "read", Stream: stream, Err: err}
	}
	events, err := s.readStream(ctx, stream, dir, from, limit)
	if err != nil {
		return nil, s.readError(ctx, "read", stream, err)
	}
	return events, nil
}

func (s *Store) readCheck(ctx context.Context, op, stream string) error {
	if err := ctx.Err(); err != nil {
		return &eventstore.Error{Op: op, Stream: stream, Err: err}
	}
	if s.isClosed() {
		return &eventstore.Error{Op: op, Stream: stream, Err: eventstore.ErrClosed}
	}
	return nil
}

// readError gives a failed read the cause a caller can act on.
func (s *Store) readError(ctx context.Context, op, stream string, err error) error {
	return &eventstore.Error{Op: op, Stream: stream, Err: s.cause(ctx, err)}
}

// cause says that a read which the closing of the store or its context cut
// short ended for that reason.
func (s *Store) cause(ctx context.Context, err error) error {
	switch {
	case s.isClosed():
		return fmt.Errorf("%w (%v)", eventstore.ErrClosed, err)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return err
}

// bound turns a position or revision into a bigint bound: End and any
// other value past int64 are the end of the log.
func bound(n uint64) int64 {
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}

func (s *Store) readAll(ctx context.Context, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	limit = min(limit, maxReadLimit)
	if limit <= 0 {
		return nil, nil
	}
	if dir == eventstore.Forwards {
		if from > math.MaxInt64 {
			return nil, nil
		}
		return s.query(ctx, limit, s.q.allForwards, int64(from), limit)
	}
	return s.query(ctx, limit, s.q.allBackwards, bound(from), limit)
}

func (s *Store) readStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	limit = min(limit, maxReadLimit)
	if limit <= 0 {
		return nil, nil
	}
	if dir == eventstore.Forwards {
		if from > math.MaxInt64 {
			return nil, nil
		}
		return s.query(ctx, limit, s.q.streamForwards, stream, int64(from), limit)
	}
	return s.query(ctx, limit, s.q.streamBackwards, stream, bound(from), limit)
}

// query runs a read of at most limit events. Each is one statement, so one
// snapshot: it holds whole appends, and, the appends committing in position
// order, every event below the highest it holds.
func (s *Store) query(ctx context.Context, limit int, sql string, args ...any) ([]eventstore.RecordedEvent, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	events := make([]eventstore.RecordedEvent, 0, min(limit, 512))
	var (
		pos, rev   int64
		data, meta []byte
		hash       []byte
		at         time.Time
		ev         eventstore.RecordedEvent
	)
	_, err = pgx.ForEachRow(rows, []any{&pos, &ev.Stream, &rev, &ev.ID, &ev.Type, &data, &meta, &at, &hash}, func() error {
		if len(hash) != 32 {
			return fmt.Errorf("event at position %d has a hash of %d bytes", pos, len(hash))
		}
		ev.Position, ev.Revision, ev.RecordedAt = uint64(pos), uint64(rev), at.UTC()
		ev.Data, ev.Metadata = nilIfEmpty(data), nilIfEmpty(meta)
		ev.Hash = [32]byte(hash)
		events = append(events, ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}
