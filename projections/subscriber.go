package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/videologue/videologue/eventstore"
)

// Log is what the projections need of the event log.
type Log interface {
	ReadAll(ctx context.Context, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error)
	SubscribeToAll(ctx context.Context, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error)
}

var _ message.Subscriber = (*Subscriber)(nil)

// Subscriber is a watermill message.Subscriber over the whole event log.
// Subscribe asks after where to start and delivers every later event, in
// order, in messages that each carry the events available at once (up
// to Config.PageEvents): a message's cost is shared by its events. It
// delivers the next message only once the previous is acked; a nacked
// message is delivered again after a delay that doubles. A subscription
// the store drops (a consumer too slow for a live subscription) is
// resumed after the last acked event, so nothing is lost or repeated.
type Subscriber struct {
	log    Log
	after  func() uint64
	cfg    Config
	logger *slog.Logger

	redelivered atomic.Uint64

	mu      sync.Mutex
	closed  bool
	cancels []context.CancelFunc
	wg      sync.WaitGroup
}

// NewSubscriber returns a Subscriber over log; after tells the position
// of the last event already applied (0: none).
func NewSubscriber(log Log, after func() uint64, cfg Config, logger *slog.Logger) *Subscriber {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Subscriber{log: log, after: after, cfg: cfg.withDefaults(), logger: logger}
}

// Subscribe implements message.Subscriber; every topic is the whole log.
// The channel closes when ctx ends, Close is called, or the store closes.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("subscribe %s: subscriber closed", topic)
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancels = append(s.cancels, cancel)
	out := make(chan *message.Message)
	after := s.after()
	s.wg.Go(func() {
		defer close(out)
		defer cancel()
		s.run(ctx, after, out)
	})
	return out, nil
}

// Close ends every subscription and waits for their goroutines.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	cancels := s.cancels
	s.cancels = nil
	s.mu.Unlock()
	for _, c := range cancels {
		c()
	}
	s.wg.Wait()
	return nil
}

// Redelivered counts the messages delivered again after a Nack.
func (s *Subscriber) Redelivered() uint64 { return s.redelivered.Load() }

func (s *Subscriber) run(ctx context.Context, after uint64, out chan<- *message.Message) {
	for ctx.Err() == nil {
		from := eventstore.Start()
		if after > 0 {
			from = eventstore.After(after)
		}
		sub, err := s.log.SubscribeToAll(ctx, from, s.cfg.Subscribe)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, eventstore.ErrClosed) {
				return
			}
			s.logger.Error("projections cannot subscribe to the log; retrying", "after", after, "err", err)
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		var ok bool
		if after, ok = s.pages(ctx, sub, after, out); !ok {
			sub.Close()
			return
		}
		err = sub.Err()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, eventstore.ErrClosed):
			s.logger.Info("log closed; projections' subscription ends")
			return
		default:
			s.logger.Warn("projections' subscription dropped; resuming", "after", after, "err", err)
			if !sleep(ctx, 10*time.Millisecond) {
				return
			}
		}
	}
}

// pages delivers sub's events in pages until sub ends (true) or ctx does
// (false); it returns the position of the last event acked.
func (s *Subscriber) pages(ctx context.Context, sub *eventstore.Subscription, after uint64, out chan<- *message.Message) (uint64, bool) {
	in := sub.Messages()
	for {
		var page []*eventstore.RecordedEvent
		var m eventstore.Message
		open := true
		select {
		case m, open = <-in:
		case <-ctx.Done():
			return after, false
		}
	more:
		for open {
			if !m.CaughtUp && m.Event.Position > after {
				page = append(page, m.Event)
			}
			if len(page) == s.cfg.PageEvents {
				break
			}
			select {
			case m, open = <-in:
			default:
				break more
			}
		}
		if len(page) > 0 {
			if !s.deliver(ctx, out, page) {
				return after, false
			}
			after = page[len(page)-1].Position
		}
		if !open {
			return after, true
		}
	}
}

// deliver hands page to the consumer until it is acked; false when ctx
// ended first.
func (s *Subscriber) deliver(ctx context.Context, out chan<- *message.Message, page []*eventstore.RecordedEvent) bool {
	delay := s.cfg.RedeliveryDelay
	for {
		msg := pageMessage(page)
		msg.SetContext(ctx)
		select {
		case out <- msg:
		case <-ctx.Done():
			return false
		}
		select {
		case <-msg.Acked():
			return true
		case <-msg.Nacked():
		case <-ctx.Done():
			return false
		}
		s.redelivered.Add(1)
		if !sleep(ctx, delay) {
			return false
		}
		delay = min(2*delay, s.cfg.MaxRedeliveryDelay)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
