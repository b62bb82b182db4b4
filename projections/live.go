package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/videologue/videologue/eventstore"
)

// logTopic is the one topic of the live router: the whole log.
const logTopic = "log"

// Run follows the log live until ctx is done, through a watermill router:
// one subscription to the whole log (see Subscriber), whose messages each
// carry the events available at once, and one handler that applies a
// message as one batch of the engine. It returns nil on a clean stop.
//
// The middleware, outermost first: the poison queue, which takes a
// message that still fails after the retries and applies it leniently
// (an event a projection cannot decode is recorded and skipped; any
// other failure stops that projection alone); Retry; and Recoverer.
// A storage failure is not poison: the message is nacked and delivered
// again until the storage recovers.
func (e *Engine) Run(ctx context.Context) error {
	if len(e.stale) > 0 {
		p := e.stale[0]
		return &Error{Op: "run", Projection: p.Name(), Err: fmt.Errorf("%w (this build writes format %d): catch up first, which rebuilds it", ErrFormat, p.Version())}
	}
	// The router's lifecycle is debug; a handler's errors stay errors.
	wmLog := watermill.NewSlogLoggerWithLevelMapping(e.logger.With("component", "projections"), map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: e.cfg.CloseTimeout}, wmLog)
	if err != nil {
		return fmt.Errorf("projections: %w", err)
	}
	poison, err := middleware.PoisonQueueWithFilter(poisonQueue{e}, "projections.poison", e.isPoison)
	if err != nil {
		return fmt.Errorf("projections: %w", err)
	}
	router.AddMiddleware(poison, middleware.Retry{
		MaxRetries:      e.cfg.Retries,
		InitialInterval: e.cfg.RetryInterval,
		MaxInterval:     e.cfg.RetryInterval * 16,
		Multiplier:      2,
	}.Middleware, middleware.Recoverer)
	e.mu.Lock()
	reg := e.reg
	e.mu.Unlock()
	if reg != nil {
		metrics.NewPrometheusMetricsBuilder(reg, "videologue", "projections").AddPrometheusRouterMetrics(router)
	}
	sub := NewSubscriber(e.log, func() uint64 { from, _ := e.least(); return from }, e.cfg, e.logger)
	e.mu.Lock()
	e.sub = sub
	e.mu.Unlock()
	live := e.newBatch()
	defer func() { live.w.batch.Close() }()
	e.rewind()
	router.AddConsumerHandler("projections", logTopic, sub, func(msg *message.Message) error {
		return e.handle(live, msg)
	})

	var wg sync.WaitGroup
	lagCtx, stopLag := context.WithCancel(ctx)
	wg.Go(func() { e.measureLag(lagCtx) })
	err = router.Run(ctx)
	stopLag()
	wg.Wait()
	if cerr := sub.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("projections: %w", err)
	}
	if ctx.Err() == nil {
		return errors.New("projections: the router stopped (the log closed?)")
	}
	return nil
}

// least is the least checkpoint of the projections still running, where
// reading the log resumes; false when every projection has stopped.
func (e *Engine) least() (uint64, bool) {
	from, found := uint64(0), false
	for _, st := range e.states {
		if cp := st.cp.Load(); st.stopped.Load() == nil && (!found || cp < from) {
			from, found = cp, true
		}
	}
	return from, found
}

// handle applies a message strictly: any failure drops the whole batch
// and returns, for the Retry middleware to try again.
func (e *Engine) handle(b *batch, msg *message.Message) error {
	evs, err := pageEvents(msg)
	if err != nil {
		return err
	}
	for i := range evs {
		if err := e.apply(b, NewEvent(&evs[i]), true); err != nil {
			e.abandon(b)
			return err
		}
	}
	return e.commit(b)
}

// isPoison is the poison queue's filter: what failed for the storage, or
// because the router is stopping, is delivered again instead. A storage
// failure that outlasted the retries makes the projections fail (see
// Err) until a commit succeeds.
func (e *Engine) isPoison(err error) bool {
	if errors.Is(err, ErrStorage) {
		e.setFailing(err)
		return false
	}
	return !isCanceled(err)
}

// poisonQueue is the Publisher behind the PoisonQueue middleware: it
// applies the message again, leniently (see Engine.apply), so that the
// projection that fails on an event records it and skips it, or stops,
// while the others apply the message.
type poisonQueue struct{ e *Engine }

func (q poisonQueue) Publish(_ string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		evs, err := pageEvents(msg)
		if err != nil {
			q.e.logger.Error("projections dropped a message that carries no events", "uuid", msg.UUID, "err", err)
			continue
		}
		b := q.e.newBatch()
		for i := range evs {
			if err = q.e.apply(b, NewEvent(&evs[i]), false); err != nil {
				break
			}
		}
		if err == nil {
			err = q.e.commit(b)
		} else {
			q.e.abandon(b)
		}
		b.w.batch.Close()
		if err != nil {
			return fmt.Errorf("poison queue: %w", err)
		}
	}
	return nil
}

func (poisonQueue) Close() error { return nil }

// wireEvent is an event as a message carries it. Data and metadata are
// bytes, not JSON: an event whose data does not parse must still travel.
type wireEvent struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Stream     string    `json:"stream"`
	Revision   uint64    `json:"revision"`
	Position   uint64    `json:"position"`
	RecordedAt time.Time `json:"recorded_at"`
	Data       []byte    `json:"data"`
	Metadata   []byte    `json:"metadata,omitempty"`
	Hash       []byte    `json:"hash,omitempty"`
}

// Metadata of a message: the positions of its first and last events.
const (
	MetaFirst = "first_position"
	MetaLast  = "last_position"
)

// pageMessage carries evs, in log order, as one message.
func pageMessage(evs []*eventstore.RecordedEvent) *message.Message {
	w := make([]wireEvent, len(evs))
	for i, ev := range evs {
		w[i] = wireEvent{ev.ID, ev.Type, ev.Stream, ev.Revision, ev.Position, ev.RecordedAt, ev.Data, ev.Metadata, ev.Hash[:]}
	}
	payload, _ := json.Marshal(w) // strings, numbers and bytes always marshal
	first, last := strconv.FormatUint(evs[0].Position, 10), strconv.FormatUint(evs[len(evs)-1].Position, 10)
	msg := message.NewMessage("log-"+first+"-"+last, payload)
	msg.Metadata.Set(MetaFirst, first)
	msg.Metadata.Set(MetaLast, last)
	return msg
}

// pageEvents reads the events back from msg.
func pageEvents(msg *message.Message) ([]eventstore.RecordedEvent, error) {
	var w []wireEvent
	if err := json.Unmarshal(msg.Payload, &w); err != nil {
		return nil, fmt.Errorf("%w: message %s: %w", ErrBadEvent, msg.UUID, err)
	}
	evs := make([]eventstore.RecordedEvent, len(w))
	for i, x := range w {
		evs[i] = eventstore.RecordedEvent{ID: x.ID, Type: x.Type, Stream: x.Stream, Revision: x.Revision, Position: x.Position,
			RecordedAt: x.RecordedAt, Data: x.Data, Metadata: x.Metadata}
		copy(evs[i].Hash[:], x.Hash)
	}
	return evs, nil
}

// Register adds the engine's metrics to reg (see metrics.go), and when
// Run starts, the watermill router's.
func (e *Engine) Register(reg prometheus.Registerer) error {
	e.mu.Lock()
	e.reg = reg
	e.mu.Unlock()
	return reg.Register(collector{e})
}

// Unregister removes the engine's metrics from reg, for another engine
// over the same read models to register its own.
func (e *Engine) Unregister(reg prometheus.Registerer) bool {
	return reg.Unregister(collector{e})
}
