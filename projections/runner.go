package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/videologue/videologue/eventstore"
)

// RunnerConfig tunes a Runner. The zero value is usable.
type RunnerConfig struct {
	// Retries is how many times the Retry middleware retries a failed
	// event before it is poison (default 3), waiting RetryInterval
	// (default 20ms), doubling, in between.
	Retries       int
	RetryInterval time.Duration
	// Subscriber tunes the watermill subscriber over the log.
	Subscriber SubscriberConfig
	// LagInterval is how often the lag metrics are measured (default 1s).
	LagInterval time.Duration
	// CloseTimeout bounds how long stopping waits for a handler in flight
	// (default 10s).
	CloseTimeout time.Duration
	// Now is the clock of the lag metrics (default time.Now).
	Now func() time.Time
}

// Runner keeps projections up to date with the log through a watermill
// router: one consumer handler per projection, each with its own topic on
// a Subscriber over the log, behind the PoisonQueue, Retry and Recoverer
// middleware.
type Runner struct {
	db     *DB
	log    Log
	cfg    RunnerConfig
	logger *slog.Logger
	states []*state
	byName map[string]*state

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a checkpoint moves
	sub     *Subscriber
}

// state is one projection's progress. cp is written by the projection's
// worker (one message at a time) and the poison queue, read by anyone.
type state struct {
	p        Projection
	w        Writer
	work     chan *eventstore.RecordedEvent // to the projection's worker
	result   chan applied                   // and back
	cp       atomic.Uint64
	cpAt     atomic.Int64 // unix nanos of the checkpoint's event
	applied  atomic.Uint64
	poisoned atomic.Uint64
	lagN     atomic.Uint64 // events behind the head, as last measured
	lagS     atomic.Uint64 // math.Float64bits of seconds behind
}

// applied is what a worker answers: the error, or the panic, of applying
// one event.
type applied struct {
	err   error
	panic any
}

// NewRunner returns a Runner of ps over db; nothing runs until Run.
func NewRunner(db *DB, log Log, ps []Projection, cfg RunnerConfig, logger *slog.Logger) (*Runner, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 3
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 20 * time.Millisecond
	}
	if cfg.LagInterval <= 0 {
		cfg.LagInterval = time.Second
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	stale, err := db.checkFormats(ps)
	if err != nil {
		return nil, err
	}
	if len(stale) > 0 {
		p := stale[0]
		stored := "no format recorded"
		if v, ok, _ := db.Format(p.Name()); ok {
			stored = fmt.Sprintf("format %d", v)
		}
		return nil, &Error{Op: "run", Projection: p.Name(), Err: fmt.Errorf("%w (%s; this build writes format %d): catch up first, which rebuilds it", ErrFormat, stored, p.Version())}
	}
	r := &Runner{db: db, log: log, cfg: cfg, logger: logger, byName: map[string]*state{}, changed: make(chan struct{})}
	for _, p := range ps {
		if _, dup := r.byName[p.Name()]; dup {
			return nil, fmt.Errorf("projections: two projections named %q", p.Name())
		}
		cp, err := db.Checkpoint(p.Name())
		if err != nil {
			return nil, err
		}
		st := &state{p: p, work: make(chan *eventstore.RecordedEvent), result: make(chan applied, 1)}
		st.cp.Store(cp.Position)
		st.cpAt.Store(int64(timeKey(cp.RecordedAt)))
		r.states = append(r.states, st)
		r.byName[p.Name()] = st
	}
	return r, nil
}

// Run consumes the log until ctx is done, then stops the router and
// waits for the handler in flight. It returns nil on a clean stop.
func (r *Runner) Run(ctx context.Context) error {
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: r.cfg.CloseTimeout}, wmLogger{l: r.logger.With("component", "projections")})
	if err != nil {
		return fmt.Errorf("projections: %w", err)
	}
	poison, err := middleware.PoisonQueueWithFilter(poisonQueue{r}, "projections.poison", func(err error) bool { return !transient(err) })
	if err != nil {
		return fmt.Errorf("projections: %w", err)
	}
	// The first middleware is the outermost: a panic becomes an error
	// (Recoverer), which is retried (Retry), and what still fails is
	// poison unless the storage failed (then the message is nacked and
	// redelivered).
	router.AddMiddleware(poison, middleware.Retry{
		MaxRetries:      r.cfg.Retries,
		InitialInterval: r.cfg.RetryInterval,
		MaxInterval:     r.cfg.RetryInterval * 16,
		Multiplier:      2,
	}.Middleware, middleware.Recoverer)
	sub := NewSubscriber(r.log, r.checkpointOf, r.cfg.Subscriber, r.logger)
	r.mu.Lock()
	r.sub = sub
	r.mu.Unlock()
	for _, st := range r.states {
		router.AddConsumerHandler(st.p.Name(), st.p.Name(), sub, r.handler(st))
	}
	var wg sync.WaitGroup
	lagCtx, stopLag := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.measureLag(lagCtx)
	}()
	var workers sync.WaitGroup
	for _, st := range r.states {
		workers.Add(1)
		go func() {
			defer workers.Done()
			r.work(st)
		}()
	}
	err = router.Run(ctx)
	stopLag()
	wg.Wait()
	for _, st := range r.states { // the router's handlers have returned
		close(st.work)
	}
	workers.Wait()
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

func (r *Runner) checkpointOf(topic string) (uint64, error) {
	st := r.byName[topic]
	if st == nil {
		return 0, fmt.Errorf("%w: %q", ErrUnknownProjection, topic)
	}
	return st.cp.Load(), nil
}

// handler is the projection's watermill handler. Watermill runs each
// message in a goroutine of its own; the projection applies it on its
// worker, a goroutine that lives as long as the Runner, whose stack has
// grown once to what the database needs (growing a fresh one for every
// message cost more than applying the event). A panic there is raised
// again here, for the Recoverer.
func (r *Runner) handler(st *state) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		ev, err := fromMessage(msg)
		if err != nil {
			return err
		}
		select {
		case st.work <- ev:
		case <-msg.Context().Done():
			return msg.Context().Err()
		}
		res := <-st.result
		if res.panic != nil {
			panic(res.panic)
		}
		return res.err
	}
}

// work applies the events its handler hands over, one at a time, until
// Run closes st.work.
func (r *Runner) work(st *state) {
	for ev := range st.work {
		st.result <- r.applyRecovering(st, ev)
	}
}

func (r *Runner) applyRecovering(st *state, ev *eventstore.RecordedEvent) (res applied) {
	defer func() {
		if v := recover(); v != nil {
			st.w.forget()
			res = applied{panic: fmt.Sprintf("%v\n%s", v, debug.Stack())}
		}
	}()
	return applied{err: r.applyOne(st, ev)}
}

// applyOne applies ev to one projection and commits its writes with the
// new checkpoint in one batch. An event at or below the checkpoint is a
// redelivery and changes nothing.
func (r *Runner) applyOne(st *state, ev *eventstore.RecordedEvent) error {
	if ev.Position <= st.cp.Load() {
		return nil
	}
	name := st.p.Name()
	st.w.begin(r.db.db)
	if err := st.p.Apply(&st.w, NewEvent(ev)); err != nil {
		return &Error{Op: "apply", Projection: name, Err: fmt.Errorf("event at %d: %w", ev.Position, err)}
	}
	st.w.accept()
	b := r.db.db.NewBatch()
	defer b.Close()
	cp := Checkpoint{Position: ev.Position, RecordedAt: ev.RecordedAt}
	err := st.w.commitTo(b)
	if err == nil {
		err = b.Set(checkpointKey(name), encodeCheckpoint(cp), nil)
	}
	if err == nil {
		err = r.db.commit(b, false)
	}
	if err != nil {
		st.w.forget() // the cache holds writes the database does not
		return &Error{Op: "apply", Projection: name, Err: errors.Join(ErrStorage, err)}
	}
	st.w.trim(nil)
	st.applied.Add(1)
	r.advance(st, cp)
	return nil
}

func (r *Runner) advance(st *state, cp Checkpoint) {
	st.cp.Store(cp.Position)
	st.cpAt.Store(int64(timeKey(cp.RecordedAt)))
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Checkpoint returns where projection name stands.
func (r *Runner) Checkpoint(name string) (uint64, error) { return r.checkpointOf(name) }

// WaitFor returns once every projection has applied the log up to
// position pos, or ctx ends.
func (r *Runner) WaitFor(ctx context.Context, pos uint64) error {
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		done := true
		for _, st := range r.states {
			done = done && st.cp.Load() >= pos
		}
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("projections: wait for position %d: %w", pos, ctx.Err())
		}
	}
}

// Poisoned counts the events projection name could not apply.
func (r *Runner) Poisoned(name string) uint64 {
	if st := r.byName[name]; st != nil {
		return st.poisoned.Load()
	}
	return 0
}
