package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	cpebble "github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/personal"
	"github.com/videologue/videologue/projections"
)

// ReadModels is serve's read models: the projections' database, caught up
// with the log in batches, then kept up to date through the watermill
// router until Close. A rebuild through the admin socket stops the live
// engine, rebuilds, and starts a fresh one.
type ReadModels struct {
	DB *projections.DB

	log    projections.Log
	reg    prometheus.Registerer // nil: no metrics
	logger *slog.Logger
	ctx    context.Context // the live engine runs until it ends

	rebuildMu sync.Mutex // one rebuild at a time

	mu      sync.Mutex
	engine  *projections.Engine
	idle    chan struct{} // while a rebuild runs: closed when it ends
	cancel  context.CancelFunc
	done    chan error // the live engine's Run
	stopped bool       // Close has begun
	failed  error      // no engine follows the log since a rebuild
}

// StartReadModels opens the read models in dir, catches them up with log,
// registers their lag metrics in reg (when not nil) and starts their
// engine live. Close stops it.
func StartReadModels(ctx context.Context, dir string, log projections.Log, reg prometheus.Registerer, logger *slog.Logger) (*ReadModels, error) {
	return startReadModels(ctx, dir, log, nil, reg, logger)
}

// startReadModels is StartReadModels with queries that open sealed
// values with keys.
func startReadModels(ctx context.Context, dir string, log projections.Log, keys *personal.Keyring, reg prometheus.Registerer, logger *slog.Logger) (*ReadModels, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ps := projections.Builtin()
	db, engine, res, err := catchUpReadModels(ctx, dir, log, ps, keys, logger)
	if errors.Is(err, errReadModelsDamaged) || errors.Is(err, errReadModelsAhead) {
		// The read models are derived from the log: a damaged copy, or
		// one that has seen events the log no longer holds, is moved
		// aside (for a post-mortem; delete it at will) and rebuilt
		// rather than kept from serving.
		why := "damaged"
		if errors.Is(err, errReadModelsAhead) {
			why = "rewound"
		}
		aside := fmt.Sprintf("%s.%s-%s", dir, why, time.Now().UTC().Format("20060102T150405"))
		if rerr := os.Rename(dir, aside); rerr != nil {
			return nil, fmt.Errorf("%w; moving it aside failed: %w", err, rerr)
		}
		logger.Warn("read models "+why+": moved aside, rebuilding them from the log", "dir", dir, "moved_to", aside, "err", err)
		db, engine, res, err = catchUpReadModels(ctx, dir, log, ps, keys, logger)
	}
	if err != nil {
		return nil, err
	}
	if res.Events > 0 {
		logger.Info("read models caught up", "events", res.Events, "head", res.Head, "elapsed", res.Elapsed.Round(time.Millisecond))
	}
	rm := &ReadModels{DB: db, log: log, reg: reg, logger: logger, ctx: ctx}
	if err := rm.runLive(engine); err != nil {
		db.Close()
		return nil, err
	}
	return rm, nil
}

// runLive registers engine's metrics and runs it live; rm.mu is not held.
func (rm *ReadModels) runLive(engine *projections.Engine) error {
	if rm.reg != nil {
		if err := engine.Register(rm.reg); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(rm.ctx)
	done := make(chan error, 1)
	rm.mu.Lock()
	rm.engine, rm.cancel, rm.done = engine, cancel, done
	rm.mu.Unlock()
	go func() { done <- engine.Run(ctx) }()
	return nil
}

// Err is nil while every read model follows the log, and otherwise names
// those that stopped or cannot write, or says a rebuild runs (for
// /readyz).
func (rm *ReadModels) Err() error {
	rm.mu.Lock()
	engine, idle, failed := rm.engine, rm.idle, rm.failed
	rm.mu.Unlock()
	switch {
	case idle != nil:
		return errors.New("read models rebuilding")
	case failed != nil:
		return failed
	}
	return engine.Err()
}

// WaitFor returns once every read model that has not stopped has applied
// the log up to position pos (after the rebuild under way, if any), or
// ctx ends.
func (rm *ReadModels) WaitFor(ctx context.Context, pos uint64) error {
	for {
		rm.mu.Lock()
		engine, idle, failed := rm.engine, rm.idle, rm.failed
		rm.mu.Unlock()
		if failed != nil {
			return failed
		}
		if idle == nil {
			return engine.WaitFor(ctx, pos)
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("wait for the read models' rebuild: %w", ctx.Err())
		}
	}
}

// Rebuild stops the live engine, clears ps and applies the whole log to
// them again, then follows the log live with a fresh engine. The site's
// analysis pages show the rebuilt models filling up meanwhile. If ctx
// ends first, the fresh engine resumes the rebuild from its last batch.
func (rm *ReadModels) Rebuild(ctx context.Context, ps []projections.Projection, progress func(done, head uint64)) (projections.Result, error) {
	rm.rebuildMu.Lock()
	defer rm.rebuildMu.Unlock()
	idle := make(chan struct{})
	rm.mu.Lock()
	if rm.stopped {
		rm.mu.Unlock()
		return projections.Result{}, errors.New("the server is shutting down")
	}
	old, cancel, done := rm.engine, rm.cancel, rm.done
	rm.idle = idle
	rm.mu.Unlock()
	defer func() {
		rm.mu.Lock()
		rm.idle = nil
		rm.mu.Unlock()
		close(idle)
	}()
	cancel()
	if err := <-done; err != nil {
		rm.logger.Warn("read models: the live engine stopped with an error before the rebuild", "err", err)
	}
	if rm.reg != nil {
		old.Unregister(rm.reg)
	}
	engine, err := projections.New(rm.DB, rm.log, ps, projections.Config{Progress: progress}, rm.logger)
	var res projections.Result
	if err == nil {
		res, err = engine.Rebuild(ctx)
	}
	live, lerr := projections.New(rm.DB, rm.log, projections.Builtin(), projections.Config{Progress: logProgress(rm.logger, 5*time.Second)}, rm.logger)
	if lerr == nil {
		_, lerr = live.CatchUp(rm.ctx)
	}
	if lerr == nil {
		lerr = rm.runLive(live)
	}
	if lerr != nil {
		// Nothing follows the log: /readyz says so until a restart.
		lerr = fmt.Errorf("read models do not follow the log: %w", lerr)
		rm.logger.Error("read models: restarting after a rebuild", "err", lerr)
		rm.runFailed(lerr)
	}
	return res, errors.Join(err, lerr)
}

// runFailed records that no engine runs live: Err reports err and Close
// has nothing to stop.
func (rm *ReadModels) runFailed(err error) {
	done := make(chan error, 1)
	done <- nil
	rm.mu.Lock()
	rm.cancel, rm.done = func() {}, done
	rm.failed = err
	rm.mu.Unlock()
}

// errReadModelsDamaged: the read models' files do not read back.
var errReadModelsDamaged = errors.New("read models damaged")

// errReadModelsAhead: the read models have applied events that the log
// no longer holds, as after a restore of the log to an earlier point.
var errReadModelsAhead = errors.New("read models ahead of the log")

// checkNotAhead checks that the last event each read model applied is
// still in the log, at the same position with the same time: a log
// restored to an earlier point reuses the positions after its end.
func checkNotAhead(ctx context.Context, db *projections.DB, log projections.Log, ps []projections.Projection) error {
	for _, p := range ps {
		cp, err := db.Checkpoint(p.Name())
		if err != nil || cp.Position == 0 {
			continue // a checkpoint that does not read back is caught up over
		}
		evs, err := log.ReadAll(ctx, eventstore.Forwards, cp.Position, 1)
		if err != nil {
			return err
		}
		if len(evs) == 0 || evs[0].Position != cp.Position || !evs[0].RecordedAt.Equal(cp.RecordedAt) {
			return fmt.Errorf("%w: %s applied position %d, recorded at %s, which the log does not hold", errReadModelsAhead, p.Name(), cp.Position, cp.RecordedAt.Format(time.RFC3339Nano))
		}
	}
	return nil
}

// catchUpReadModels opens the read models in dir and catches them up with
// log. Damage to their files (a corruption pebble reports, or a panic on
// what it decoded) is an error wrapping errReadModelsDamaged.
func catchUpReadModels(ctx context.Context, dir string, log projections.Log, ps []projections.Projection, keys *personal.Keyring, logger *slog.Logger) (db *projections.DB, engine *projections.Engine, res projections.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", errReadModelsDamaged, dir, r)
		}
		if err != nil && cpebble.IsCorruptionError(err) && !errors.As(err, new(*pebble.DamagedError)) { // not the log's own
			err = fmt.Errorf("%w: %s: %w", errReadModelsDamaged, dir, err)
		}
		if err != nil && db != nil {
			func() {
				defer func() { _ = recover() }()
				db.Close()
			}()
			db, engine = nil, nil
		}
	}()
	if db, err = projections.Open(dir, projections.DBConfig{Keys: keys}, logger); err != nil {
		return nil, nil, res, err
	}
	if err = checkNotAhead(ctx, db, log, ps); err != nil {
		return db, nil, res, err
	}
	if engine, err = projections.New(db, log, ps, projections.Config{Progress: logProgress(logger, 5*time.Second)}, logger); err != nil {
		return db, nil, res, err
	}
	res, err = engine.CatchUp(ctx)
	return db, engine, res, err
}

// logProgress returns a Config.Progress that logs how far a
// catch-up (or a rebuild after a format change) has come, at most once
// every interval: a server can spend a while in it before it serves.
func logProgress(logger *slog.Logger, interval time.Duration) func(done, head uint64) {
	last := time.Now()
	return func(done, head uint64) {
		if time.Since(last) < interval {
			return
		}
		last = time.Now()
		logger.Info("read models catching up", "position", done, "head", head)
	}
}

// Close stops the engine, waits for it, and closes the database. Later
// calls do nothing.
func (rm *ReadModels) Close() error {
	rm.mu.Lock()
	if rm.stopped {
		rm.mu.Unlock()
		return nil
	}
	rm.stopped = true
	rm.mu.Unlock()
	// A rebuild under way ends with its command, which the admin socket
	// has cancelled by now.
	rm.rebuildMu.Lock()
	defer rm.rebuildMu.Unlock()
	rm.mu.Lock()
	cancel, done := rm.cancel, rm.done
	rm.mu.Unlock()
	cancel()
	err := <-done
	return errors.Join(err, rm.DB.Close())
}
