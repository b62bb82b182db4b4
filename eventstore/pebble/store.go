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
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2"

	"github.com/videologue/videologue/eventstore"
)

var _ eventstore.Store = (*Store)(nil)

// Config tunes the store. The zero value is usable.
type Config struct {
	// MaxGroupEvents caps the events of one group commit (default 8192).
	MaxGroupEvents int
	// CacheBytes is pebble's block cache (default 512 MiB). Catch-up
	// reads of recent history, the common case, come from it.
	CacheBytes int64
}

// Store is the embedded log.
type Store struct {
	db     *pebble.DB
	cfg    Config
	logger *slog.Logger
	signal *eventstore.Signal

	// durable is the last position fsynced; readers stop there.
	durable atomic.Uint64

	mu      sync.RWMutex // guards closing against sends on reqs
	closing bool
	reqs    chan *appendReq
	closed  chan struct{} // closed once Close starts: ends subscriptions
	done    chan struct{} // closed when the committer and syncer have ended
	failed  atomic.Pointer[error]
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
// holds, or that is damaged, gives an error that says so.
func Open(dir string, cfg Config, logger *slog.Logger) (s *Store, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxGroupEvents <= 0 {
		cfg.MaxGroupEvents = 8192
	}
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = 512 << 20
	}
	defer func() {
		if r := recover(); r != nil { // pebble panics on some corruption
			err = &eventstore.Error{Op: "open", Err: fmt.Errorf("data directory %s is damaged: %v", dir, r)}
		}
	}()
	cache := pebble.NewCache(cfg.CacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:        cache,
		Logger:       quietLogger{logger},
		MemTableSize: 32 << 20,
	}
	for i := range opts.Levels {
		// Events are read in long sequential runs: larger blocks mean
		// fewer block reads and checksums per event.
		opts.Levels[i].BlockSize = 32 << 10
	}
	existing, _ := filepath.Glob(filepath.Join(dir, "marker.manifest.*"))
	db, err := pebble.Open(dir, opts)
	if err != nil {
		msg := err.Error()
		switch {
		case errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) || strings.Contains(msg, "lock"):
			err = fmt.Errorf("data directory %s is in use by another process: %w", dir, err)
		default:
			err = fmt.Errorf("data directory %s cannot be opened (damaged or not a Videologue log?): %w", dir, err)
		}
		return nil, &eventstore.Error{Op: "open", Err: err}
	}
	s = &Store{
		db: db, cfg: cfg, logger: logger,
		reqs:   make(chan *appendReq, 1024),
		closed: make(chan struct{}),
		done:   make(chan struct{}),
		revs:   make(map[string]int64),
		hasher: eventstore.NewChainHasher(),
	}
	if err := s.load(len(existing) > 0); err != nil {
		db.Close()
		return nil, &eventstore.Error{Op: "open", Err: fmt.Errorf("data directory %s: %w", dir, err)}
	}
	s.signal = eventstore.NewSignal(s.nextPos - 1)
	s.durable.Store(s.nextPos - 1)
	go func() {
		s.commitLoop()
		s.syncing.Wait()
		close(s.done)
	}()
	return s, nil
}

// load checks the format marker and finds the head of the log.
func (s *Store) load(existing bool) error {
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
	s.readMu.Lock()
	s.dbClosed = true
	s.readMu.Unlock()
	if err := s.db.Close(); err != nil {
		return &eventstore.Error{Op: "close", Err: err}
	}
	return nil
}

var nopLogger = slog.New(slog.DiscardHandler)

// quietLogger routes pebble's logs to slog at debug level; fatal stays fatal.
type quietLogger struct{ l *slog.Logger }

func (q quietLogger) Infof(format string, args ...any)  { q.l.Debug(fmt.Sprintf(format, args...)) }
func (q quietLogger) Errorf(format string, args ...any) { q.l.Error(fmt.Sprintf(format, args...)) }
func (q quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
