// Package pebble keeps users' keys in a pebble database of their own,
// beside the log in the data directory (<data>/keys), so that deleting
// a key can really remove its bytes: the log's files are never rewritten.
//
// The database runs without a write-ahead log. Every write is flushed to
// a table before it returns, which makes it durable without leaving
// copies in log files that pebble would recycle; and Erase then compacts
// the key's range so that the table that held the key is rewritten
// without it and deleted. Key creation is rare (once per user), so the
// flush per write costs nothing that matters.
package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/videologue/videologue/personal"
)

// Key layout: 'k' user(8) -> the wrapped key; 'x' user(8) -> nothing,
// the user was erased.
const (
	nsKey    = 'k'
	nsErased = 'x'
)

func keyOf(ns byte, userID int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{ns}, uint64(userID))
}

// Store is a personal.Store in a pebble database.
type Store struct {
	db      *pebble.DB
	dir     string
	deleted chan struct{} // a table file was deleted: one waiting Erase looks again
	mu      sync.Mutex    // serializes writes: Create reads before it writes
}

var _ personal.Store = (*Store)(nil)

// Open opens (creating if needed) the key store in dir. Pebble's errors
// go to logger.
func Open(dir string, logger *slog.Logger) (*Store, error) {
	s := &Store{dir: dir, deleted: make(chan struct{}, 1)}
	opts := &pebble.Options{DisableWAL: true, Logger: quiet{logger}, EventListener: &pebble.EventListener{
		TableDeleted: func(pebble.TableDeleteInfo) {
			select {
			case s.deleted <- struct{}{}:
			default:
			}
		},
	}}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("opening the key store %s: %w", dir, err)
	}
	s.db = db
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) has(k []byte) ([]byte, bool, error) {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// Get implements personal.Store.
func (s *Store) Get(ctx context.Context, userID int64) ([]byte, error) {
	v, ok, err := s.has(keyOf(nsKey, userID))
	if err != nil || ok {
		return v, err
	}
	if _, erased, err := s.has(keyOf(nsErased, userID)); err != nil {
		return nil, err
	} else if erased {
		return nil, personal.ErrErased
	}
	return nil, personal.ErrNoKey
}

// Create implements personal.Store.
func (s *Store) Create(ctx context.Context, userID int64, wrapped []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch v, err := s.Get(ctx, userID); {
	case err == nil:
		return v, nil
	case !errors.Is(err, personal.ErrNoKey):
		return nil, err
	}
	if err := s.db.Set(keyOf(nsKey, userID), wrapped, pebble.NoSync); err != nil {
		return nil, fmt.Errorf("keeping the key of user %d: %w", userID, err)
	}
	if err := s.db.Flush(); err != nil {
		return nil, fmt.Errorf("keeping the key of user %d: %w", userID, err)
	}
	return wrapped, nil
}

// Erase implements personal.Store: the key's deletion is flushed, and
// its range compacted to the bottom, which rewrites the tables that held
// the key without it; pebble deletes the old tables in the background,
// and Erase returns once it has.
func (s *Store) Erase(ctx context.Context, userID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.Get(ctx, userID); errors.Is(err, personal.ErrErased) {
		return nil // erased before: its key is gone from the files already
	}
	k := keyOf(nsKey, userID)
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Delete(k, nil)
	_ = b.Set(keyOf(nsErased, userID), nil, nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("erasing the key of user %d: %w", userID, err)
	}
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("erasing the key of user %d: %w", userID, err)
	}
	if err := s.db.Compact(ctx, k, keyOf(nsKey, userID+1), false); err != nil {
		return fmt.Errorf("compacting away the key of user %d: %w", userID, err)
	}
	if err := s.waitObsoleteDeleted(ctx); err != nil {
		return fmt.Errorf("erasing the key of user %d: %w", userID, err)
	}
	return nil
}

// waitObsoleteDeleted waits until every table file in the directory is
// one the database still uses.
func (s *Store) waitObsoleteDeleted(ctx context.Context) error {
	for {
		tables, err := s.db.SSTables()
		if err != nil {
			return err
		}
		live := make(map[string]bool)
		for _, level := range tables {
			for _, t := range level {
				live[fmt.Sprintf("%06d.sst", t.FileNum)] = true
			}
		}
		ents, err := os.ReadDir(s.dir)
		if err != nil {
			return err
		}
		stale := false
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".sst") && !live[e.Name()] {
				stale = true
			}
		}
		if !stale {
			return nil
		}
		select {
		case <-s.deleted:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// quiet drops pebble's informational logging; errors go to the logger
// and fatal errors still stop.
type quiet struct{ l *slog.Logger }

func (quiet) Infof(string, ...any)                {}
func (q quiet) Errorf(format string, args ...any) { q.l.Error(fmt.Sprintf(format, args...)) }
func (quiet) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// Backup writes a consistent copy of the store into dir, which must not
// exist: a pebble checkpoint, whose tables hold only the keys that
// exist now.
func (s *Store) Backup(dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("backing up the key store: %w", err)
	}
	return nil
}
