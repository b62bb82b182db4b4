// Package pebble is Videologue's embedded event log, on
// github.com/cockroachdb/pebble/v2.
//
// One committer goroutine owns every write: it checks each append's
// expected revision, assigns revisions, positions and the hash chain, and
// applies whole groups of pending appends as one pebble batch. A second
// goroutine waits for each group's fsync, then publishes the new durable
// head and answers the group's appenders. Readers never see past the
// durable head, so an event is visible only once it can no longer be lost,
// and a position seen is never reused after a crash.
package pebble

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/videologue/videologue/eventstore"
)

var _ eventstore.Store = (*Store)(nil)

// ErrInUse is the error of opening a log that another process holds
// open: a running server, or another tool.
var ErrInUse = errors.New("in use by another process")

// Config tunes the store. The zero value is usable.
type Config struct {
	// MaxGroupEvents caps the events of one group commit (default 8192).
	MaxGroupEvents int
	// CacheBytes is pebble's block cache (default 512 MiB). Catch-up
	// reads of recent history, the common case, come from it.
	CacheBytes int64
	// MustExist refuses to create a log: a directory without one is an
	// error (the tools that only read).
	MustExist bool
	// AcceptLoss opens a log that ends below the head its checkpoint
	// recorded as durable (see LostTailError), and records the head it
	// has instead. Positions above it will be reused.
	AcceptLoss bool
	// Now is the clock that stamps each group of appends (default
	// time.Now). Copying a log into a new one (videologue log seal) sets
	// it to the time each original event was recorded.
	Now func() time.Time
}

// Store is the embedded log.
type Store struct {
	db     *pebble.DB
	cfg    Config
	logger *slog.Logger
	signal *eventstore.Signal
	health *health

	// durable is the last position fsynced; readers stop there.
	durable atomic.Uint64

	mu      sync.RWMutex // guards closing against sends on reqs
	closing bool
	reqs    chan *appendReq
	closed  chan struct{}  // closed once Close starts: ends subscriptions
	done    chan struct{}  // closed when the committer and syncer have ended
	ckDone  chan struct{}  // closed when the checkpoint writer has ended
	syncing sync.WaitGroup // appenders awaiting their group's fsync

	// chunkHint is where the last forward read of the log ended (seekHint).
	chunkHint atomic.Uint64

	// readMu keeps Close from closing the database under a running read.
	readMu   sync.RWMutex
	dbClosed bool

	// Owned by the committer goroutine.
	revs     map[string]int64 // last revision per stream; -1 none
	nextPos  uint64
	lastHash [32]byte
	hasher   *eventstore.ChainHasher
	chunk    []byte // records of the chunk being built, reused
}

// Open opens or creates the log in dir. A directory that another process
// holds, that is damaged, that has lost events it had made durable (a
// *LostTailError), or whose disk is full gives an error that says so.
func Open(dir string, cfg Config, logger *slog.Logger) (s *Store, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxGroupEvents <= 0 {
		cfg.MaxGroupEvents = 8192
	}
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = 512 << 20
	}
	fail := func(err error) error { return &eventstore.Error{Op: "open", Err: err} }
	existing, _ := filepath.Glob(filepath.Join(dir, "marker.manifest.*"))
	if cfg.MustExist && len(existing) == 0 {
		return nil, fail(fmt.Errorf("no event log in %s: check --data", dir))
	}
	h := newHealth(dir, logger)
	db, err := openDB(dir, cfg, h, logger)
	if err != nil {
		return nil, fail(err)
	}
	s = &Store{
		db: db, cfg: cfg, logger: logger, health: h,
		reqs:   make(chan *appendReq, 1024),
		closed: make(chan struct{}),
		done:   make(chan struct{}),
		ckDone: make(chan struct{}),
		revs:   make(map[string]int64),
		hasher: eventstore.NewChainHasher(),
	}
	err = s.load(len(existing) > 0)
	if err == nil {
		err = s.checkHead(dir, cfg.AcceptLoss)
	}
	if err == nil {
		err = h.failure()
	}
	if err != nil {
		closeDB(db)
		var de *DamagedError
		var lt *LostTailError
		if errors.As(err, &de) || errors.As(err, &lt) || errors.Is(err, eventstore.ErrUnavailable) {
			return nil, fail(err)
		}
		return nil, fail(fmt.Errorf("data directory %s: %w", dir, s.readErr(err)))
	}
	head := s.nextPos - 1 // the committer owns nextPos once it runs
	s.signal = eventstore.NewSignal(head)
	s.durable.Store(head)
	go func() {
		s.commitLoop()
		s.syncing.Wait()
		close(s.done)
	}()
	go func() {
		s.checkpointLoop(dir, head)
		close(s.ckDone)
	}()
	return s, nil
}

// openDB opens pebble in dir. pebble's open flushes what its write-ahead
// log holds and waits for the flush, which it retries forever on a full
// disk: the wait ends when the store's health fails instead, and the open
// left behind closes what it opens, should it ever finish.
func openDB(dir string, cfg Config, h *health, logger *slog.Logger) (*pebble.DB, error) {
	cache := pebble.NewCache(cfg.CacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:         cache,
		Logger:        quietLogger{logger},
		EventListener: h.listener(),
		MemTableSize:  32 << 20,
	}
	if cfg.MustExist {
		opts.ErrorIfNotExists = true
	}
	for i := range opts.Levels {
		// Events are read in long sequential runs: larger blocks mean
		// fewer block reads and checksums per event.
		opts.Levels[i].BlockSize = 32 << 10
	}
	type result struct {
		db  *pebble.DB
		err error
	}
	opened := make(chan result, 1)
	cache.Ref() // the open below holds its own reference
	go func() {
		defer cache.Unref()
		var r result
		defer func() {
			if p := recover(); p != nil { // pebble panics on some corruption
				r = result{err: &DamagedError{Dir: dir, Err: fmt.Errorf("%v", p)}}
			}
			opened <- r
		}()
		r.db, r.err = pebble.Open(dir, opts)
	}()
	var r result
	select {
	case r = <-opened:
	case <-h.failed:
		go func() { // abandon the open; close what it may still open
			if r := <-opened; r.db != nil {
				closeDB(r.db)
			}
		}()
		return nil, h.failure()
	}
	if r.err != nil {
		var de *DamagedError
		msg := r.err.Error()
		switch {
		case errors.As(r.err, &de):
			return nil, r.err
		case errors.Is(r.err, syscall.EWOULDBLOCK) || errors.Is(r.err, syscall.EAGAIN) || strings.Contains(msg, "lock"):
			return nil, fmt.Errorf("data directory %s is %w: %w", dir, ErrInUse, r.err)
		case diskFull(r.err):
			return nil, describe(dir, r.err)
		case errors.Is(r.err, fs.ErrNotExist) && cfg.MustExist:
			return nil, fmt.Errorf("no event log in %s: check --data: %w", dir, r.err)
		case pebble.IsCorruptionError(r.err):
			return nil, &DamagedError{Dir: dir, Err: r.err}
		default:
			return nil, fmt.Errorf("data directory %s cannot be opened (damaged or not a Videologue log?): %w", dir, r.err)
		}
	}
	return r.db, nil
}

// closeDB closes a database that failed, waiting at most
// failedCloseWait: pebble's close waits for a flush that it retries
// forever on a full disk, and may panic closing a database that hit
// corruption. What was acknowledged is in the synced write-ahead log, so
// leaving the database as a crash would is safe.
func closeDB(db *pebble.DB) {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		defer func() { _ = recover() }()
		_ = db.Close()
	}()
	select {
	case <-closed:
	case <-time.After(failedCloseWait):
	}
}

// load checks the format marker and finds the head of the log.
func (s *Store) load(existing bool) (err error) {
	defer s.recoverRead(&err)
	v, closer, err := s.db.Get(keyFormat)
	switch {
	case errors.Is(err, pebble.ErrNotFound) && existing:
		// The first open writes the marker; a database without it lost
		// the start of its write-ahead log.
		return errors.New("damaged: the database has no Videologue format marker (corrupt write-ahead log?)")
	case errors.Is(err, pebble.ErrNotFound):
		if err := s.db.Set(keyFormat, []byte(formatVersion), pebble.Sync); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		got := string(v)
		closer.Close()
		if got != formatVersion {
			return fmt.Errorf("unknown log format %q", got)
		}
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixEvent}, UpperBound: []byte{prefixEvent + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	s.nextPos = 1
	if it.Last() {
		first := decodePos(it.Key())
		c, err := newChunkReader(first, it.Value())
		if err != nil {
			return fmt.Errorf("last chunk at position %d: %w", first, err)
		}
		var rec []byte
		var pos uint64
		for {
			r, p, more, err := c.next()
			if err != nil {
				return fmt.Errorf("last chunk at position %d: %w", first, err)
			}
			if !more {
				break
			}
			rec, pos = r, p
		}
		var ev eventstore.RecordedEvent
		if err := decodeRecord(append([]byte(nil), rec...), pos, &ev); err != nil {
			return fmt.Errorf("last event at position %d: %w", pos, err)
		}
		s.nextPos = pos + 1
		s.lastHash = ev.Hash
	}
	return it.Error()
}

// Compact rewrites the whole log into its final levels. Reads after a
// large import are faster; it is never needed for correctness.
func (s *Store) Compact(ctx context.Context) error {
	if err := s.db.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		return &eventstore.Error{Op: "compact", Err: err}
	}
	return nil
}

// Close finishes pending appends, ends subscriptions and closes the log.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return eventstore.ErrClosed
	}
	s.closing = true
	close(s.closed)
	close(s.reqs)
	s.mu.Unlock()
	<-s.done
	<-s.ckDone
	s.readMu.Lock()
	s.dbClosed = true
	s.readMu.Unlock()
	if err := s.health.failure(); err != nil {
		closeDB(s.db)
		return &eventstore.Error{Op: "close", Err: err}
	}
	if err := s.db.Close(); err != nil {
		return &eventstore.Error{Op: "close", Err: err}
	}
	return nil
}

// failedCloseWait is how long Close waits for a failed store's database
// to close before leaving it.
const failedCloseWait = 5 * time.Second

var nopLogger = slog.New(slog.DiscardHandler)

// quietLogger routes pebble's logs to slog at debug level; fatal stays fatal.
type quietLogger struct{ l *slog.Logger }

func (q quietLogger) Infof(format string, args ...any)  { q.l.Debug(fmt.Sprintf(format, args...)) }
func (q quietLogger) Errorf(format string, args ...any) { q.l.Error(fmt.Sprintf(format, args...)) }
func (q quietLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	q.l.Error("event log: fatal error (a damaged or full data directory?)", "err", msg)
	panic(msg)
}
