package eventstore

import (
	"context"
	"errors"
)

// SubscribeOptions tune a subscription. The zero value is usable.
type SubscribeOptions struct {
	// Buffer is how many messages wait for the consumer (default 256).
	Buffer int
	// MaxLag drops a live subscription whose consumer is not taking
	// messages while the log's head is more than MaxLag positions past what
	// it has delivered (default 65536). Catch-up never drops: there the
	// consumer sets the pace and nothing accumulates.
	MaxLag uint64
	// PageSize is the number of events read from the store at once
	// (default 512).
	PageSize int
}

func (o SubscribeOptions) withDefaults() SubscribeOptions {
	if o.Buffer <= 0 {
		o.Buffer = 256
	}
	if o.MaxLag == 0 {
		o.MaxLag = 1 << 16
	}
	if o.PageSize <= 0 {
		o.PageSize = 512
	}
	return o
}

// Message is what a subscription delivers: an event, or the one CaughtUp
// marker that separates history from live events.
type Message struct {
	Event    *RecordedEvent // nil for CaughtUp
	CaughtUp bool
}

// Subscription is a running subscription. Its owner reads Messages until
// the channel closes, then checks Err; Close stops it early.
type Subscription struct {
	c      chan Message
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Messages delivers events in order. It is closed when the subscription
// ends.
func (s *Subscription) Messages() <-chan Message { return s.c }

// Err is nil when the subscription ended by its context or Close, and a
// *SubscriptionDroppedError when the store ended it (a slow consumer, a
// closed store, a read failure). Valid once Messages is closed.
func (s *Subscription) Err() error {
	<-s.done
	return s.err
}

// Close stops the subscription and waits for its goroutine to end.
func (s *Subscription) Close() {
	s.cancel()
	<-s.done
}

// Pager reads at most limit events in order, starting at from (inclusive):
// a revision for a stream subscription, a position for the whole log. It
// is a forward read; the engine works out from, so that every backend
// agrees on what "after the cursor" means.
type Pager func(ctx context.Context, from uint64, limit int) ([]RecordedEvent, error)

// Feed is what a backend gives Subscribe.
type Feed struct {
	Stream string // AllStream for the whole log
	Page   Pager
	// Last returns the cursor of the newest event (revision or position),
	// and false when there is none. Used by FromEnd.
	Last   func(ctx context.Context) (uint64, bool, error)
	Signal *Signal
	// Closed is closed when the store closes; subscriptions then end with
	// ErrClosed.
	Closed <-chan struct{}
}

// Subscribe starts the catch-up subscription engine that backends share:
// it pages through history after from, marks CaughtUp when a page reaches
// the head, then waits on the Signal and pages again. Because every event
// is read from the store by its cursor, the switch from history to live has
// neither gap nor duplicate however appends interleave, and a slow consumer
// costs appenders nothing.
func Subscribe(ctx context.Context, f Feed, from From, opts SubscribeOptions) (*Subscription, error) {
	opts = opts.withDefaults()
	var cursor uint64
	started := false
	switch {
	case from.IsEnd():
		last, ok, err := f.Last(ctx)
		if err != nil {
			return nil, &Error{Op: "subscribe", Stream: f.Stream, Err: err}
		}
		cursor, started = last, ok
	default:
		if n, ok := from.AfterValue(); ok {
			cursor, started = n, true
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Subscription{c: make(chan Message, opts.Buffer), cancel: cancel, done: make(chan struct{})}
	r := &runner{f: f, opts: opts, s: s, cursor: cursor, started: started}
	go func() {
		defer close(s.done)
		defer close(s.c)
		defer cancel()
		s.err = r.run(ctx)
	}()
	go func() { // the store's closing ends the subscription
		select {
		case <-f.Closed:
			cancel()
		case <-s.done:
		}
	}()
	return s, nil
}

type runner struct {
	f        Feed
	opts     SubscribeOptions
	s        *Subscription
	cursor   uint64
	started  bool
	lastPos  uint64 // global position of the last delivered event
	caughtUp bool
}

func (r *runner) dropped(err error) error {
	return &SubscriptionDroppedError{Stream: r.f.Stream, Checkpoint: r.cursor, Delivered: r.started, Err: err}
}

// next is the first revision or position not yet delivered; 0 before
// anything, which reads a stream from revision 0 and the log from its
// first position.
func (r *runner) next() uint64 {
	if r.started {
		return r.cursor + 1
	}
	return 0
}

// page is a read of the store: the events, or why there are none, and
// the log's change signal taken before the read.
type page struct {
	wake   <-chan struct{}
	events []RecordedEvent
	err    error
}

func (r *runner) run(ctx context.Context) error {
	_, r.lastPos = r.f.Signal.Wait()
	// ahead is the next page of history, read while this one is
	// delivered: the store produces a page while the consumer takes the
	// last, rather than each waiting for the other. Run stops that read
	// and waits for it before it returns.
	var ahead chan page
	readCtx, stopRead := context.WithCancel(ctx)
	defer func() {
		stopRead()
		if ahead != nil {
			<-ahead
		}
	}()
	for {
		var wake <-chan struct{}
		var events []RecordedEvent
		err := ctx.Err()
		switch {
		case err != nil:
		case ahead != nil:
			p := <-ahead
			ahead = nil
			wake, events, err = p.wake, p.events, p.err
		default:
			wake, _ = r.f.Signal.Wait()
			events, err = r.f.Page(ctx, r.next(), r.opts.PageSize)
		}
		if err != nil {
			return r.end(ctx, err)
		}
		if len(events) == r.opts.PageSize && !r.caughtUp {
			ahead = r.readAhead(readCtx, &events[len(events)-1])
		}
		for i := range events {
			ev := &events[i]
			if err := r.send(ctx, Message{Event: ev}); err != nil {
				return r.end(ctx, err)
			}
			if r.f.Stream == AllStream {
				r.cursor = ev.Position
			} else {
				r.cursor = ev.Revision
			}
			r.started = true
			r.lastPos = ev.Position
		}
		if len(events) == r.opts.PageSize {
			continue
		}
		if !r.caughtUp {
			if err := r.send(ctx, Message{CaughtUp: true}); err != nil {
				return r.end(ctx, err)
			}
			r.caughtUp = true
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return r.end(ctx, ctx.Err())
		}
	}
}

// readAhead starts reading the page of history that follows last.
func (r *runner) readAhead(ctx context.Context, last *RecordedEvent) chan page {
	from := last.Revision + 1
	if r.f.Stream == AllStream {
		from = last.Position + 1
	}
	wake, _ := r.f.Signal.Wait()
	ch := make(chan page, 1)
	go func() {
		events, err := r.f.Page(ctx, from, r.opts.PageSize)
		ch <- page{wake, events, err}
	}()
	return ch
}

// end turns the reason a run stopped into the subscription's error.
func (r *runner) end(ctx context.Context, err error) error {
	select {
	case <-r.f.Closed:
		return r.dropped(ErrClosed)
	default:
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return r.dropped(err)
}

func (r *runner) send(ctx context.Context, m Message) error {
	// A ready channel would win half of the selects below against a
	// cancelled context: a stopped subscription delivers nothing more.
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case r.s.c <- m:
		return nil
	default:
	}
	if !r.caughtUp {
		select {
		case r.s.c <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		wake, head := r.f.Signal.Wait()
		if head > r.lastPos && head-r.lastPos > r.opts.MaxLag {
			return ErrSubscriberTooSlow
		}
		select {
		case r.s.c <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}
