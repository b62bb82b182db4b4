package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// BatchOptions tune Rebuild and CatchUp. The zero value is usable.
type BatchOptions struct {
	// BatchEvents is how many log events go into one committed batch: by
	// default 16384 in CatchUp; in Rebuild, no limit but MemoryBytes.
	BatchEvents int
	// MemoryBytes bounds what a Rebuild holds before it commits a batch
	// (default 2 GiB): the records written since the last commit, and
	// the projections' caches. A million events take about 600 MiB.
	MemoryBytes int
	// PageSize is how many events are read from the log at once (default
	// 4096).
	PageSize int
	// Progress, if set, is called where a batch ends or a rebuild seals
	// (every 16,384 events), and at the end, with the position applied
	// and the head of the log when the run started.
	Progress func(done, head uint64)
	// Sync fsyncs each batch. Without it a crash may lose the last
	// batches, never split one: the next run resumes from the
	// checkpoints.
	Sync bool
}

// BatchResult tells what a Rebuild or CatchUp did.
type BatchResult struct {
	Events   uint64            // log events read
	Head     uint64            // the head of the log when the run started
	Poisoned map[string]uint64 // per projection, events it could not apply
	Elapsed  time.Duration
}

// Rebuild clears the projections ps (their models, checkpoints and
// poison records) and applies the whole log to them again from position
// 0. It feeds the same Apply methods as the Runner, but commits large
// batches instead of one event at a time, as sorted tables that pebble
// ingests (see tableCommitter): every batch carries the checkpoints of
// its events, so an interrupted rebuild resumes with CatchUp. It must
// not run while a Runner on db is running.
func Rebuild(ctx context.Context, db *DB, log Log, ps []Projection, opts BatchOptions, logger *slog.Logger) (BatchResult, error) {
	b := db.db.NewBatch()
	for _, p := range ps {
		prefix := []byte{p.Prefix()}
		pp := poisonPrefix(p.Name())
		var err error
		for _, r := range [][2][]byte{{prefix, upper(prefix)}, {pp, upper(pp)}} {
			// A range deletion slows every later scan until compactions
			// drop it: none where there is nothing to delete.
			if empty, eerr := db.empty(r[0], r[1]); eerr != nil || !empty {
				err = errors.Join(err, eerr, b.DeleteRange(r[0], r[1], nil))
			}
		}
		if cp, cerr := db.Checkpoint(p.Name()); cerr != nil || cp.Position > 0 {
			err = errors.Join(err, cerr, b.Delete(checkpointKey(p.Name()), nil))
		}
		// The records written from here on are in the projection's format.
		err = errors.Join(err, b.Set(formatKey(p.Name()), encodeFormat(p.Version()), nil))
		if err != nil {
			b.Close()
			return BatchResult{}, &Error{Op: "rebuild", Projection: p.Name(), Err: err}
		}
	}
	if err := db.commit(b, true); err != nil {
		b.Close()
		return BatchResult{}, err
	}
	b.Close()
	return catchUp(ctx, db, log, ps, opts, true, logger)
}

// batchState is one projection's progress in a batched run.
type batchState struct {
	p        Projection
	w        Writer
	cp       Checkpoint
	dirty    bool
	poisoned uint64
	// A partitioned projection has a state per partition: this one
	// applies the events of partition part, and takes every other
	// event's position as its checkpoint. The reader works out each
	// event's partition once (page.parts): pi is the projection's index
	// there, -1 for a projection in one partition.
	part, pi int
}

// partitioned is a projection whose events fall into partitions that
// share no record: a batched run applies each partition on a goroutine
// of its own. The activity projection's partitions are videos.
type partitioned interface {
	// Partition returns ev's partition; false if ev changes nothing,
	// which partition 0 then applies.
	Partition(ev *Event) (uint64, bool)
}

// batchPartitions is how many partitions a batched run makes of a
// partitioned projection: one per core (a variable for tests).
var batchPartitions = func() int { return runtime.GOMAXPROCS(0) }

// CatchUp applies the log after each projection's checkpoint in large
// batches (see Rebuild), up to the head of the log as it is when CatchUp
// starts. A projection whose model is stored in another format than it
// writes (see Projection.Version) is rebuilt first. It must not run
// while a Runner on db is running.
func CatchUp(ctx context.Context, db *DB, log Log, ps []Projection, opts BatchOptions, logger *slog.Logger) (BatchResult, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	stale, err := db.checkFormats(ps)
	if err != nil {
		return BatchResult{}, err
	}
	var rebuilt BatchResult
	if len(stale) > 0 {
		for _, p := range stale {
			logger.Info("rebuilding a read model stored in another format", "projection", p.Name(), "version", p.Version())
		}
		if rebuilt, err = Rebuild(ctx, db, log, stale, opts, logger); err != nil {
			return rebuilt, err
		}
	}
	res, err := catchUp(ctx, db, log, ps, opts, false, logger)
	res.Events += rebuilt.Events
	res.Elapsed += rebuilt.Elapsed
	for name, n := range rebuilt.Poisoned {
		res.Poisoned[name] += n // catchUp always makes the map
	}
	return res, err
}

// catchUp is CatchUp; cleared says that the projections' records were
// just cleared, so that what they did not write since does not exist.
func catchUp(ctx context.Context, db *DB, log Log, ps []Projection, opts BatchOptions, cleared bool, logger *slog.Logger) (BatchResult, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.BatchEvents <= 0 && !cleared {
		opts.BatchEvents = 16384
	}
	if opts.MemoryBytes <= 0 {
		opts.MemoryBytes = 2 << 30
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 4096
	}
	start := time.Now()
	res := BatchResult{Poisoned: map[string]uint64{}}
	var states []*batchState
	var split []partitioned // the projections applied in partitions
	from := uint64(0)
	for i, p := range ps {
		cp, err := db.Checkpoint(p.Name())
		if err != nil {
			return res, err
		}
		pp, _ := p.(partitioned)
		parts, pi := 1, -1
		if pp != nil && batchPartitions() > 1 {
			parts, pi = batchPartitions(), len(split)
			split = append(split, pp)
		}
		for part := range parts {
			states = append(states, &batchState{p: p, cp: cp, part: part, pi: pi})
		}
		if i == 0 || cp.Position < from {
			from = cp.Position
		}
	}
	last, err := log.ReadAll(ctx, eventstore.Backwards, eventstore.End, 1)
	if err != nil {
		return res, fmt.Errorf("projections: catch up: %w", err)
	}
	if len(last) == 0 || len(states) == 0 {
		return res, nil
	}
	res.Head = last[0].Position
	if cleared {
		for _, st := range states {
			st.w.written = newAbsentFilter(res.Head)
			st.w.reserve()
		}
		// Deferred before the appliers start: runs once they stopped.
		defer func() {
			for _, st := range states {
				st.w.releaseCache()
			}
		}()
	}

	ctx, cancel := context.WithCancel(ctx)
	const ahead = 4 // pages read ahead
	pages, free := make(chan *page, ahead), make(chan *page, ahead+1)
	for range ahead + 1 {
		free <- newPage(opts.PageSize, split, batchPartitions())
	}
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // reads and decodes ahead while the batch is applied: the two use different cores
		defer wg.Done()
		defer close(pages)
		readErr = readPages(ctx, log, from+1, res.Head, free, pages)
	}()
	defer func() {
		cancel()
		for range pages { // unblock the reader
		}
		wg.Wait()
	}()

	var c batchCommitter = &committer{db: db, sync: opts.Sync}
	var tc *tableCommitter
	if cleared { // the records go into empty ranges
		tc = newTableCommitter(db, states)
		c = tc
	}
	defer c.close()
	ap := startAppliers(db, states, logger)
	defer ap.stop()
	n := 0         // events since the last commit
	sinceSeal := 0 // in a rebuild
	var pos uint64
	for pg := range pages {
		// The page goes to the appliers in parts that end where a batch
		// ends or a rebuild seals: there the states are applied up to
		// the part's end, to seal or commit.
		page := pg.evs
		for len(page) > 0 {
			k := len(page)
			if opts.BatchEvents > 0 {
				k = min(k, opts.BatchEvents-n)
			}
			if tc != nil {
				k = min(k, sealEvents-sinceSeal)
			}
			at := len(pg.evs) - len(page)
			part := pg.evs[at : at+k]
			parts := make([][]int32, len(split))
			for j := range parts {
				parts[j] = pg.parts[j][at : at+k]
			}
			page = page[k:]
			pos = part[k-1].Position // before give: once applied, the page may serve again
			var release func()
			if len(page) == 0 {
				release = func() { free <- pg } // applied: its memory serves again
			}
			ap.give(part, parts, release)
			res.Events += uint64(k)
			n += k
			sealing := false
			if tc != nil {
				if sinceSeal += k; sinceSeal == sealEvents {
					sinceSeal, sealing = 0, true
				}
			}
			if !sealing && n != opts.BatchEvents {
				continue
			}
			if err := ap.wait(); err != nil {
				return res, err
			}
			if sealing {
				tc.seal(states)
			}
			if n == opts.BatchEvents || sealing && tc.pendingBytes(states) > opts.MemoryBytes {
				if err := c.commit(states); err != nil {
					return res, err
				}
				n = 0
			}
			if opts.Progress != nil {
				opts.Progress(pos, res.Head)
			}
		}
	}
	if err := ap.wait(); err != nil {
		return res, err
	}
	if opts.Progress != nil && pos > 0 {
		opts.Progress(pos, res.Head)
	}
	if readErr != nil {
		return res, fmt.Errorf("projections: read the log: %w", readErr)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	err = c.commit(states)
	if err == nil {
		err = c.wait()
	}
	if err != nil {
		return res, err
	}
	for _, st := range states {
		res.Poisoned[st.p.Name()] += st.poisoned
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// appliers apply the events of a batched run to its projections, one
// goroutine per state (a projection, or a partition of one), so that a
// rebuild's light projections do not wait on the activity projection's
// cost. Parts of pages are handed to all of them, and each goes through
// them at its own pace, up to a queue's length ahead of the slowest;
// after wait, until the next give, the states are the caller's (to seal
// and commit). The events are decoded before they are shared, so the
// goroutines only read them.
type appliers struct {
	in   []chan work
	done sync.WaitGroup // parts given and not yet applied by all
	errs []error        // per state, its first: each written by its goroutine, read after done.Wait
	up   sync.WaitGroup // the goroutines
}

// work is a part of a page to apply; the last goroutine to finish with
// it calls release, if set.
type work struct {
	part    []Event
	parts   [][]int32 // each event's partition, per partitioned projection
	left    *atomic.Int32
	release func()
}

// applierQueue is how many parts an applier may be behind.
const applierQueue = 8

func startAppliers(db *DB, states []*batchState, logger *slog.Logger) *appliers {
	a := &appliers{in: make([]chan work, len(states)), errs: make([]error, len(states))}
	for i, st := range states {
		a.in[i] = make(chan work, applierQueue)
		a.up.Go(func() {
			for w := range a.in[i] {
				if a.errs[i] == nil { // after an error, only let the parts go
					a.errs[i] = applyPart(st, db, w.part, w.parts, logger)
				}
				if w.left.Add(-1) == 0 && w.release != nil {
					w.release()
				}
				a.done.Done()
			}
		})
	}
	return a
}

// applyPart applies the events of part after st's checkpoint to it, those
// of its partition if it is a partition (parts: see work).
func applyPart(st *batchState, db *DB, part []Event, parts [][]int32, logger *slog.Logger) error {
	var mine []int32
	if st.pi >= 0 {
		mine = parts[st.pi]
	}
	for i := range part {
		ev := &part[i]
		if ev.Position <= st.cp.Position {
			continue
		}
		if mine != nil && mine[i] != int32(st.part) {
			st.cp = Checkpoint{Position: ev.Position, RecordedAt: ev.RecordedAt}
			continue
		}
		if err := applyInBatch(st, db, ev, logger); err != nil {
			return err
		}
		st.cp, st.dirty = Checkpoint{Position: ev.Position, RecordedAt: ev.RecordedAt}, true
	}
	return nil
}

// give hands part, and its events' partitions, to every state; release,
// if set, runs once all have applied it.
func (a *appliers) give(part []Event, parts [][]int32, release func()) {
	left := new(atomic.Int32)
	left.Store(int32(len(a.in)))
	a.done.Add(len(a.in))
	for _, in := range a.in {
		in <- work{part: part, parts: parts, left: left, release: release}
	}
}

// wait returns once every part given is applied, with the states'
// errors.
func (a *appliers) wait() error {
	a.done.Wait()
	return errors.Join(a.errs...)
}

// stop ends the goroutines.
func (a *appliers) stop() {
	for _, in := range a.in {
		close(in)
	}
	a.up.Wait()
}

// batchCommitter commits the writes of a batched run.
type batchCommitter interface {
	// commit commits, or starts committing, the writes of the states
	// that applied events since the last commit, with their checkpoints.
	commit(states []*batchState) error
	// wait returns once every batch is committed.
	wait() error
	// close waits for what is under way, for a run that ends with an
	// error.
	close()
}

// sealEvents is how many events a rebuild applies between handing its
// Puts to be sorted.
var sealEvents = 16384 // a variable for tests

// readPages sends the events in [from, head] a page at a time, their
// data and metadata decoded. The pages come from free and go back there
// once applied: the reader copies each event out of the log's scan into
// a page's own memory, which serves page after page, instead of
// allocating a few hundred bytes per event.
func readPages(ctx context.Context, log Log, from, head uint64, free <-chan *page, out chan<- *page) error {
	var pg *page
	send := func() error {
		select {
		case out <- pg:
			pg = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := eventstore.ScanAll(ctx, log, from, head, func(ev *eventstore.RecordedEvent) error {
		if pg == nil {
			select {
			case pg = <-free:
				pg.reset()
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		pg.add(ev)
		if len(pg.evs) == cap(pg.evs) {
			return send()
		}
		return nil
	})
	if err == nil && pg != nil && len(pg.evs) > 0 {
		err = send()
	}
	return err
}

// page is a page of events read from the log, and the memory they and
// their decoded strings are in.
type page struct {
	evs    []Event
	recs   []eventstore.RecordedEvent
	strs   strArena
	bodies *bodySlabs
	// parts[j][i] is the partition of evs[i] among n of split[j]'s, worked
	// out here once rather than by each partition's applier.
	split []partitioned
	n     int
	parts [][]int32
}

func newPage(size int, split []partitioned, n int) *page {
	p := &page{evs: make([]Event, 0, size), recs: make([]eventstore.RecordedEvent, 0, size), bodies: newBodySlabs(size),
		split: split, n: n, parts: make([][]int32, len(split))}
	for j := range p.parts {
		p.parts[j] = make([]int32, 0, size)
	}
	return p
}

func (p *page) reset() {
	clear(p.evs) // let go of the bodies decoded
	p.evs, p.recs = p.evs[:0], p.recs[:0]
	for j := range p.parts {
		p.parts[j] = p.parts[j][:0]
	}
	p.strs.reset()
	p.bodies.reset()
}

// add copies ev into the page and decodes it.
func (p *page) add(ev *eventstore.RecordedEvent) {
	a := &p.strs
	p.recs = append(p.recs, eventstore.RecordedEvent{
		ID: a.copy(ev.ID), Type: a.copy(ev.Type), Stream: a.copy(ev.Stream),
		Revision: ev.Revision, Position: ev.Position, RecordedAt: ev.RecordedAt,
		Data: a.bytes(ev.Data), Metadata: a.bytes(ev.Metadata), Hash: ev.Hash,
	})
	p.evs = append(p.evs, Event{RecordedEvent: &p.recs[len(p.recs)-1], strs: a, bodies: p.bodies})
	e := &p.evs[len(p.evs)-1]
	e.decode()
	for j, pp := range p.split {
		part := 0 // an event of no partition: the first applies it
		if k, ok := pp.Partition(e); ok {
			part = int(k % uint64(p.n))
		}
		p.parts[j] = append(p.parts[j], int32(part))
	}
}

// applyInBatch applies ev to one projection, adding its writes to the
// projection's pending batch. A storage failure aborts the run; any other
// failure (or panic) is poison, recorded in place of the event's writes,
// as the Runner's poison queue would.
func applyInBatch(st *batchState, db *DB, ev *Event, logger *slog.Logger) error {
	st.w.begin(db.db)
	err := safeApply(st.p, &st.w, ev)
	if err == nil {
		st.w.accept()
		return nil
	}
	if errors.Is(err, ErrStorage) {
		return &Error{Op: "apply", Projection: st.p.Name(), Err: err}
	}
	st.w.begin(db.db) // drop what the event staged
	msg := toMessage(ev.RecordedEvent)
	rec, _ := json.Marshal(Poisoned{Projection: st.p.Name(), Position: ev.Position, UUID: msg.UUID, Reason: err.Error(),
		Metadata: msg.Metadata, Payload: string(msg.Payload), At: time.Now().UTC()})
	st.poisoned++
	logger.Error("projection skipped a poisoned event", "projection", st.p.Name(), "position", ev.Position, "type", ev.Type, "reason", err)
	st.w.Put(poisonKey(st.p.Name(), ev.Position), rec)
	st.w.accept()
	return nil
}

func safeApply(p Projection, w *Writer, ev *Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic applying event at %d: %v\n%s", ev.Position, v, debug.Stack())
		}
	}()
	return p.Apply(w, ev)
}
