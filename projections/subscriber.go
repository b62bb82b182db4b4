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

// SubscriberConfig tunes a Subscriber. The zero value is usable.
type SubscriberConfig struct {
	// RedeliveryDelay is the wait before redelivering a nacked message
	// (default 100ms); it doubles on each Nack of the same message up to
	// MaxRedeliveryDelay (default 5s).
	RedeliveryDelay, MaxRedeliveryDelay time.Duration
	// Subscribe tunes the log subscription.
	Subscribe eventstore.SubscribeOptions
}

// Subscriber is a watermill message.Subscriber over the event log. A
// topic is a consumer's name: Subscribe asks After where that consumer
// stands and delivers every event of the whole log after it, in order,
// one message at a time: the next only once the previous is acked. A
// nacked message is delivered again, after a delay. A subscription the
// store drops (a consumer too slow for a live subscription) is resumed
// after the last acked event, so nothing is lost or repeated.
type Subscriber struct {
	log    Log
	after  func(topic string) (uint64, error)
	cfg    SubscriberConfig
	logger *slog.Logger

	redelivered atomic.Uint64

	mu      sync.Mutex
	closed  bool
	cancels []context.CancelFunc
	wg      sync.WaitGroup
}

// NewSubscriber returns a Subscriber over log. after tells, for a topic,
// the position of the last event its consumer has applied (0: none).
func NewSubscriber(log Log, after func(topic string) (uint64, error), cfg SubscriberConfig, logger *slog.Logger) *Subscriber {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RedeliveryDelay <= 0 {
		cfg.RedeliveryDelay = 100 * time.Millisecond
	}
	if cfg.MaxRedeliveryDelay <= 0 {
		cfg.MaxRedeliveryDelay = 5 * time.Second
	}
	return &Subscriber{log: log, after: after, cfg: cfg, logger: logger}
}

// Subscribe implements message.Subscriber. The channel closes when ctx
// ends, Close is called, or the store closes.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	after, err := s.after(topic)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("subscribe %s: subscriber closed", topic)
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancels = append(s.cancels, cancel)
	out := make(chan *message.Message)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		defer cancel()
		s.run(ctx, topic, after, out)
	}()
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

func (s *Subscriber) run(ctx context.Context, topic string, after uint64, out chan<- *message.Message) {
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
			s.logger.Error("projection cannot subscribe; retrying", "topic", topic, "after", after, "err", err)
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		for m := range sub.Messages() {
			if m.CaughtUp {
				continue
			}
			if !s.deliver(ctx, out, m.Event) {
				sub.Close()
				return
			}
			after = m.Event.Position
		}
		err = sub.Err()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, eventstore.ErrClosed):
			s.logger.Info("log closed; projection subscription ends", "topic", topic)
			return
		default:
			s.logger.Warn("projection subscription dropped; resuming", "topic", topic, "after", after, "err", err)
			if !sleep(ctx, 10*time.Millisecond) {
				return
			}
		}
	}
}

// deliver hands ev to the consumer until it is acked; false when ctx
// ended first.
func (s *Subscriber) deliver(ctx context.Context, out chan<- *message.Message, ev *eventstore.RecordedEvent) bool {
	msg := toMessage(ev)
	delay := s.cfg.RedeliveryDelay
	for {
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
		msg = toMessage(ev)
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
