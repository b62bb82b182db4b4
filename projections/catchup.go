package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// Result tells what CatchUp or Rebuild did.
type Result struct {
	Events   uint64            // log events read
	Head     uint64            // the head of the log when the run started
	Poisoned map[string]uint64 // per projection, events it skipped
	Elapsed  time.Duration
}

// CatchUp applies the log after each projection's checkpoint up to the
// head of the log as it is when CatchUp starts, committing every
// Config.BatchEvents events. A projection whose model is stored in
// another format than it writes (see Projection.Version) is cleared
// first and so applies the whole log.
func (e *Engine) CatchUp(ctx context.Context) (Result, error) {
	stale := e.stale
	for _, p := range stale {
		e.logger.Info("rebuilding a read model stored in another format", "projection", p.Name(), "version", p.Version())
	}
	if len(stale) > 0 {
		if err := e.clear(stale); err != nil {
			return Result{}, err
		}
	}
	return e.catchUp(ctx)
}

// Rebuild clears every projection of the engine (its model, checkpoint
// and poison records) and applies the whole log to it again. An
// interrupted rebuild resumes with CatchUp from its last batch.
func (e *Engine) Rebuild(ctx context.Context) (Result, error) {
	ps := make([]Projection, len(e.states))
	for i, st := range e.states {
		ps[i] = st.p
	}
	if err := e.clear(ps); err != nil {
		return Result{}, err
	}
	return e.catchUp(ctx)
}

// clear deletes the records, checkpoints and poison records of ps and
// records their format, in one batch.
func (e *Engine) clear(ps []Projection) error {
	b := e.db.db.NewBatch()
	defer b.Close()
	for _, p := range ps {
		prefix, pp := []byte{p.Prefix()}, poisonPrefix(p.Name())
		err := errors.Join(
			b.DeleteRange(prefix, upper(prefix), nil),
			b.DeleteRange(pp, upper(pp), nil),
			b.Delete(checkpointKey(p.Name()), nil),
			// The records written from here on are in the projection's format.
			b.Set(formatKey(p.Name()), encodeFormat(p.Version()), nil))
		if err != nil {
			return &Error{Op: "rebuild", Projection: p.Name(), Err: errors.Join(ErrStorage, err)}
		}
	}
	if err := e.db.commit(b, true); err != nil {
		return err
	}
	for _, p := range ps {
		st := e.byName[p.Name()]
		st.cp.Store(0)
		st.cpAt.Store(0)
		st.stopped.Store(nil)
	}
	e.stale = nil
	return nil
}

// catchUp is the engine's loop over the log as it stands: one goroutine
// reads and decodes pages ahead while this one applies and commits.
func (e *Engine) catchUp(ctx context.Context) (Result, error) {
	start := time.Now()
	res := Result{Poisoned: map[string]uint64{}}
	e.rewind()
	poisoned := make(map[string]uint64, len(e.states))
	for _, st := range e.states {
		poisoned[st.p.Name()] = st.poisoned.Load()
	}
	from, found := e.least()
	last, err := e.log.ReadAll(ctx, eventstore.Backwards, eventstore.End, 1)
	if err != nil {
		return res, fmt.Errorf("projections: catch up: %w", err)
	}
	if len(last) == 0 || !found || last[0].Position <= from {
		return res, nil
	}
	res.Head = last[0].Position

	ctx, cancel := context.WithCancel(ctx)
	pages := make(chan []*Event, 4)
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(pages)
		readErr = e.readPages(ctx, from+1, res.Head, pages)
	})
	defer func() {
		cancel()
		for range pages { // unblock the reader
		}
		wg.Wait()
	}()

	b := e.newBatch()
	defer func() { b.w.batch.Close() }()
	if e.cfg.Progress != nil {
		b.progress = func(pos uint64) { e.cfg.Progress(pos, res.Head) }
	}
	for page := range pages {
		for _, ev := range page {
			if err := e.apply(b, ev, false); err != nil {
				e.abandon(b)
				if errors.Is(err, ErrStorage) {
					e.setFailing(err)
				}
				return res, err
			}
			res.Events++
			if b.events >= e.cfg.BatchEvents {
				if err := e.commit(b); err != nil {
					return res, err
				}
			}
		}
	}
	if readErr != nil {
		e.abandon(b)
		return res, fmt.Errorf("projections: read the log: %w", readErr)
	}
	if err := ctx.Err(); err != nil {
		e.abandon(b)
		return res, err
	}
	if err := e.commit(b); err != nil {
		return res, err
	}
	for _, st := range e.states {
		if n := st.poisoned.Load() - poisoned[st.p.Name()]; n > 0 {
			res.Poisoned[st.p.Name()] = n
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// readPages sends the events in [from, to], copied and decoded, a page at
// a time.
func (e *Engine) readPages(ctx context.Context, from, to uint64, out chan<- []*Event) error {
	size := e.cfg.PageEvents
	page := make([]*Event, 0, size)
	err := eventstore.ScanAll(ctx, e.log, from, to, func(ev *eventstore.RecordedEvent) error {
		c := ev.Clone()
		page = append(page, NewEvent(&c))
		if len(page) < size {
			return nil
		}
		select {
		case out <- page:
			page = make([]*Event, 0, size)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err == nil && len(page) > 0 {
		select {
		case out <- page:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	return err
}
