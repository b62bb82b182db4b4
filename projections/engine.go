package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/videologue/videologue/eventstore"
)

// Config tunes an Engine. The zero value is usable: the engine's three
// uses (catching up at start, rebuilding, following the log live) run
// the same loop and differ only in these settings.
type Config struct {
	// BatchEvents is how many events CatchUp and Rebuild apply before
	// they commit (default 131,072). Live, each message (a page of the
	// events available at once) is one batch.
	BatchEvents int
	// PageEvents is how many events are read from the log at once, and
	// the most a live message carries (default 1,024).
	PageEvents int
	// Sync has every commit wait for the disk. Without it a crash may
	// lose the last batches, never split one: the engine resumes from the
	// checkpoints, which are in the batches.
	Sync bool
	// Progress, if set, is called after each batch CatchUp or Rebuild
	// commits, with the position applied and the head of the log when
	// the run started.
	Progress func(done, head uint64)

	// Retries is how many times a live message whose apply failed is
	// tried again before its failure is final (default 3), waiting
	// RetryInterval (default 20ms), doubling, in between.
	Retries       int
	RetryInterval time.Duration
	// RedeliveryDelay is the wait before a message that failed for
	// storage is delivered again (default 100ms); it doubles up to
	// MaxRedeliveryDelay (default 5s).
	RedeliveryDelay, MaxRedeliveryDelay time.Duration
	// Subscribe tunes the live subscription to the log.
	Subscribe eventstore.SubscribeOptions
	// LagInterval is how often the lag metrics are measured (default 1s).
	LagInterval time.Duration
	// CloseTimeout bounds how long stopping waits for the message in
	// flight (default 10s).
	CloseTimeout time.Duration
	// Now is the clock of the lag metrics and poison records (default
	// time.Now).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.BatchEvents, 1<<17)
	def(&c.PageEvents, 1024)
	def(&c.Retries, 3)
	defDur(&c.RetryInterval, 20*time.Millisecond)
	defDur(&c.RedeliveryDelay, 100*time.Millisecond)
	defDur(&c.MaxRedeliveryDelay, 5*time.Second)
	defDur(&c.LagInterval, time.Second)
	defDur(&c.CloseTimeout, 10*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Engine applies the log to projections: it reads the events in order,
// decodes each once, hands it to every projection's Apply, and commits
// the writes with every projection's checkpoint in one pebble batch.
// CatchUp, Rebuild and Run are its three uses. They must not run at the
// same time; the queries (on its DB) and the accessors below may run at
// any time.
type Engine struct {
	db     *DB
	log    Log
	cfg    Config
	logger *slog.Logger
	states []*state
	byName map[string]*state
	stale  []Projection // stored in another format: CatchUp rebuilds them

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a checkpoint moves
	sub     *Subscriber
	reg     prometheus.Registerer // for the router's metrics
}

// state is one projection's progress. The atomics are written by the
// loop and read by anyone.
type state struct {
	p        Projection
	cp       atomic.Uint64
	cpAt     atomic.Int64 // unix nanos of the checkpoint's event
	next     Checkpoint   // in the batch under way
	applied  atomic.Uint64
	poisoned atomic.Uint64
	// stopped holds why the projection stopped: an event it could not
	// apply. It applies nothing more in this process.
	stopped atomic.Pointer[error]
	// failing holds why its last commit failed (the storage); cleared by
	// the next that succeeds.
	failing atomic.Pointer[error]
	lagN    atomic.Uint64 // events behind the head, as last measured
	lagS    atomic.Uint64 // math.Float64bits of seconds behind
}

// New returns an Engine of ps over db and log; nothing runs until
// CatchUp, Rebuild or Run.
func New(db *DB, log Log, ps []Projection, cfg Config, logger *slog.Logger) (*Engine, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{db: db, log: log, cfg: cfg.withDefaults(), logger: logger, byName: map[string]*state{}, changed: make(chan struct{})}
	for _, p := range ps {
		if _, dup := e.byName[p.Name()]; dup {
			return nil, fmt.Errorf("projections: two projections named %q", p.Name())
		}
		st := &state{p: p}
		if err := e.load(st); err != nil {
			return nil, err
		}
		e.states = append(e.states, st)
		e.byName[p.Name()] = st
	}
	stale, err := db.checkFormats(ps)
	if err != nil {
		return nil, err
	}
	e.stale = stale
	return e, nil
}

// load reads st's checkpoint from the database.
func (e *Engine) load(st *state) error {
	cp, err := e.db.Checkpoint(st.p.Name())
	if err != nil {
		return err
	}
	st.cp.Store(cp.Position)
	st.cpAt.Store(int64(timeKey(cp.RecordedAt)))
	return nil
}

// failure is why a projection could not apply an event.
type failure struct {
	projection string
	position   uint64
	err        error
}

func (f *failure) Error() string {
	return fmt.Sprintf("projections: %s: event at %d: %v", f.projection, f.position, f.err)
}

func (f *failure) Unwrap() error { return f.err }

// batch is the writes of the events applied since the last commit.
type batch struct {
	w      *Writer
	events int
	last   Checkpoint
	// progress, if set, is called with the position of each batch
	// committed.
	progress func(pos uint64)
}

func (e *Engine) newBatch() *batch {
	return &batch{w: newWriter(e.db.db, e.db.db.NewBatch())}
}

// apply hands ev to every projection that has not applied it yet and
// has not stopped. Strict (a live message, which will be tried again),
// the first failure is returned and the caller drops the batch. Not
// strict, an event a projection cannot decode is recorded as poisoned
// and skipped, and any other failure stops that projection; both keep
// the rest of the batch. A storage failure is returned either way.
func (e *Engine) apply(b *batch, ev *Event, strict bool) error {
	b.events++
	b.last = Checkpoint{Position: ev.Position, RecordedAt: ev.RecordedAt}
	for _, st := range e.states {
		if ev.Position <= st.next.Position || st.stopped.Load() != nil {
			continue
		}
		err := safeApply(st.p, b.w, ev)
		if err == nil {
			err = b.w.accept()
		}
		if err == nil {
			st.next = b.last
			continue
		}
		b.w.drop()
		f := &failure{projection: st.p.Name(), position: ev.Position, err: err}
		if strict || errors.Is(err, ErrStorage) {
			return f
		}
		if errors.Is(err, ErrBadEvent) {
			if err := e.poison(b, st, ev, err); err != nil {
				return err
			}
			st.next = b.last
			continue
		}
		e.stop(st, f)
	}
	return nil
}

func safeApply(p Projection, w *Writer, ev *Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	return p.Apply(w, ev)
}

// poison records, in the batch, that st skips ev.
func (e *Engine) poison(b *batch, st *state, ev *Event, reason error) error {
	rec, _ := json.Marshal(Poisoned{Projection: st.p.Name(), Position: ev.Position, ID: ev.ID, Type: ev.Type, Stream: ev.Stream,
		Reason: reason.Error(), Data: string(ev.Data), Metadata: string(ev.RecordedEvent.Metadata), At: e.cfg.Now().UTC()})
	if err := b.w.write(poisonKey(st.p.Name(), ev.Position), rec, false); err != nil {
		return err
	}
	st.poisoned.Add(1)
	e.logger.Error("projection skipped an event it cannot decode", "projection", st.p.Name(), "position", ev.Position, "type", ev.Type, "reason", reason)
	return nil
}

// stop stops st for good in this process: applying later events over
// one it could not apply would leave its model silently wrong.
func (e *Engine) stop(st *state, f *failure) {
	var err error = f
	if st.stopped.CompareAndSwap(nil, &err) {
		e.logger.Error("projection stopped: its read model stays at its checkpoint until restarted", "projection", f.projection, "position", f.position, "err", f.err)
	}
}

// Err is nil while every projection applies the log, and otherwise an
// error naming each that has stopped or cannot write (for /readyz).
func (e *Engine) Err() error {
	var errs []error
	for _, st := range e.states {
		if p := st.stopped.Load(); p != nil {
			errs = append(errs, fmt.Errorf("read model %s stopped: %w", st.p.Name(), *p))
		} else if p := st.failing.Load(); p != nil {
			errs = append(errs, fmt.Errorf("read model %s cannot write: %w", st.p.Name(), *p))
		}
	}
	return errors.Join(errs...)
}

// Checkpoint returns where projection name stands, as committed.
func (e *Engine) Checkpoint(name string) (uint64, error) {
	st := e.byName[name]
	if st == nil {
		return 0, fmt.Errorf("%w: %q", ErrUnknownProjection, name)
	}
	return st.cp.Load(), nil
}

// WaitFor returns once every projection that has not stopped has applied
// the log up to position pos, or ctx ends.
func (e *Engine) WaitFor(ctx context.Context, pos uint64) error {
	for {
		e.mu.Lock()
		changed := e.changed
		e.mu.Unlock()
		done := true
		for _, st := range e.states {
			done = done && (st.cp.Load() >= pos || st.stopped.Load() != nil)
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

// Poisoned counts the events projection name skipped in this process.
func (e *Engine) Poisoned(name string) uint64 {
	if st := e.byName[name]; st != nil {
		return st.poisoned.Load()
	}
	return 0
}
