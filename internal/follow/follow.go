// Package follow keeps an in-memory read model in step with one stream of
// the log: an owned goroutine subscribes to the stream, hands every event
// to the model in order exactly once, resubscribes from its checkpoint when
// the store drops it for lagging, and lets callers wait until the model has
// seen a given revision (read-your-writes after an append).
package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// Store is what a Follower needs of the log.
type Store interface {
	SubscribeToStream(ctx context.Context, stream string, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error)
	ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error)
}

// ApplyFunc folds one event into a read model. It is called from the
// Follower's goroutine only, in revision order, once per revision; it does
// its own locking against the model's readers. ctx ends when the
// Follower stops.
type ApplyFunc func(ctx context.Context, ev *eventstore.RecordedEvent)

// Follower feeds a read model from a stream.
type Follower struct {
	store  Store
	stream string
	apply  ApplyFunc
	logger *slog.Logger

	mu       sync.Mutex
	applied  int64 // last revision applied; -1 before any
	caughtUp bool
	failed   error
	changed  chan struct{} // closed and replaced whenever the above change

	runMu  sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Follower of stream that feeds apply. Nothing runs until
// Start or Run.
func New(store Store, stream string, apply ApplyFunc, logger *slog.Logger) *Follower {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Follower{store: store, stream: stream, apply: apply, logger: logger, applied: -1, changed: make(chan struct{})}
}

// Start runs the Follower in a goroutine it owns until Close (or until ctx
// ends) and returns once the model has caught up with the stream's history.
func (f *Follower) Start(ctx context.Context) error {
	f.runMu.Lock()
	if f.done != nil {
		f.runMu.Unlock()
		return errors.New("follow: already started")
	}
	runCtx, cancel := context.WithCancel(ctx)
	f.cancel, f.done = cancel, make(chan struct{})
	f.runMu.Unlock()
	go func() {
		defer close(f.done)
		if err := f.Run(runCtx); err != nil {
			f.logger.Error("read model stopped", "stream", f.stream, "err", err)
		}
	}()
	if err := f.waitUntil(ctx, func() bool { return f.caughtUp }); err != nil {
		f.Close()
		return err
	}
	return nil
}

// Close stops a Follower started with Start and waits for its goroutine.
func (f *Follower) Close() {
	f.runMu.Lock()
	cancel, done := f.cancel, f.done
	f.runMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Run follows the stream until ctx is done (nil) or the store ends the
// subscription for good (the error). A subscription dropped for lagging is
// resumed from the last applied revision.
func (f *Follower) Run(ctx context.Context) error {
	err := f.run(ctx)
	f.mu.Lock()
	if err == nil {
		err = context.Cause(ctx)
		if err == nil {
			err = context.Canceled
		}
		f.failed = fmt.Errorf("follow %s: stopped: %w", f.stream, err)
		err = nil
	} else {
		f.failed = err
	}
	f.signalLocked()
	f.mu.Unlock()
	return err
}

func (f *Follower) run(ctx context.Context) error {
	for {
		from := eventstore.Start()
		if rev := f.Applied(); rev >= 0 {
			from = eventstore.After(uint64(rev))
		}
		sub, err := f.store.SubscribeToStream(ctx, f.stream, from, eventstore.SubscribeOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("follow %s: %w", f.stream, err)
		}
		for m := range sub.Messages() {
			if m.CaughtUp {
				f.mu.Lock()
				f.caughtUp = true
				f.signalLocked()
				f.mu.Unlock()
				continue
			}
			f.apply(ctx, m.Event)
			f.mu.Lock()
			f.applied = int64(m.Event.Revision)
			f.signalLocked()
			f.mu.Unlock()
		}
		err = sub.Err()
		switch {
		case err == nil || ctx.Err() != nil:
			return nil
		case errors.Is(err, eventstore.ErrSubscriberTooSlow):
			f.logger.Warn("read model lagged; resubscribing", "stream", f.stream, "applied", f.Applied())
			select {
			case <-time.After(10 * time.Millisecond):
			case <-ctx.Done():
				return nil
			}
		default:
			return fmt.Errorf("follow %s: %w", f.stream, err)
		}
	}
}

func (f *Follower) signalLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Applied is the last revision the model has applied, -1 before any.
func (f *Follower) Applied() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// WaitFor returns once the model has applied revision rev, or fails when
// ctx ends or the Follower stops first.
func (f *Follower) WaitFor(ctx context.Context, rev int64) error {
	return f.waitUntil(ctx, func() bool { return f.applied >= rev })
}

// CatchUp waits until the model has applied everything the stream held
// when CatchUp was called: what another process appended becomes visible.
func (f *Follower) CatchUp(ctx context.Context) error {
	last, err := f.store.ReadStream(ctx, f.stream, eventstore.Backwards, eventstore.End, 1)
	if err != nil {
		return fmt.Errorf("follow %s: catch up: %w", f.stream, err)
	}
	if len(last) == 0 {
		return nil
	}
	return f.WaitFor(ctx, int64(last[0].Revision))
}

func (f *Follower) waitUntil(ctx context.Context, done func() bool) error {
	for {
		f.mu.Lock()
		ok, failed, changed := done(), f.failed, f.changed
		f.mu.Unlock()
		if ok {
			return nil
		}
		if failed != nil {
			return failed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("follow %s: %w", f.stream, context.Cause(ctx))
		}
	}
}
