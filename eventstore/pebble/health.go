package pebble

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/time/rate"

	"github.com/videologue/videologue/eventstore"
)

// health is what the store knows of its own state: the first failure
// that stops it writing (a full disk, a failed fsync, a damaged file),
// shared by the store and the listener pebble reports background errors
// to, which exists before the store does.
type health struct {
	dir    string
	logger *slog.Logger

	once   sync.Once
	err    atomic.Pointer[error]
	failed chan struct{} // closed by the first fail

	// Background errors repeat as pebble retries (a flush on a full disk
	// is retried at once, forever): log the first, then a summary now
	// and then.
	logEvery   rate.Sometimes
	suppressed atomic.Int64
}

func newHealth(dir string, logger *slog.Logger) *health {
	return &health{dir: dir, logger: logger, failed: make(chan struct{}), logEvery: rate.Sometimes{First: 1, Interval: 10 * time.Second}}
}

// fail records err as the reason the store no longer writes; only the
// first reason is kept, and logged once.
func (h *health) fail(err error) {
	h.once.Do(func() {
		h.err.Store(&err)
		close(h.failed)
		h.logger.Error("event log failed: it refuses writes until the server is restarted", "dir", h.dir, "err", err)
	})
}

// failure is the recorded failure as an error that wraps
// eventstore.ErrUnavailable, or nil.
func (h *health) failure() error {
	p := h.err.Load()
	if p == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, *p)
}

// listener is how pebble reports to the store. A corruption pebble finds
// is an error of the operation that found it, and fails the store (the
// default would end the process with a stack trace); a write that the
// disk refuses fails it too, since pebble retries it forever.
func (h *health) listener() *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			if diskFull(err) || pebble.IsCorruptionError(err) {
				h.fail(describe(h.dir, err))
			}
			h.logEvery.Do(func() {
				h.logger.Error("event log background error", "dir", h.dir, "err", err, "suppressed", h.suppressed.Swap(0))
			})
			h.suppressed.Add(1)
		},
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			h.fail(&DamagedError{Dir: h.dir, File: info.Path, Err: info.Details})
		},
	}
}

// DamagedError is a file of the log that does not read back as written.
type DamagedError struct {
	Dir  string
	File string // the damaged file, when known
	Err  error
	// Remedy is what the operator does; by default, restore a backup.
	Remedy string
}

func (e *DamagedError) Error() string {
	what := "a file of the event log in " + e.Dir
	if e.File != "" {
		what = "file " + e.File + " of the event log"
	}
	remedy := e.Remedy
	if remedy == "" {
		remedy = "restore the data directory from a backup"
	}
	return fmt.Sprintf("%s is damaged (%v): %s (docs/DEPLOYMENT.md, \"Damaged data\")", what, e.Err, remedy)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// diskFull reports whether err is the disk refusing to store more.
func diskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "no space left on device")
}

// describe gives a write error a sentence an operator can act on.
func describe(dir string, err error) error {
	switch {
	case diskFull(err):
		return fmt.Errorf("the disk of %s is full: free some space, then restart the server: %w", dir, err)
	case pebble.IsCorruptionError(err):
		return &DamagedError{Dir: dir, Err: err}
	default:
		return err
	}
}

// Health is nil while the store can write, and otherwise the reason it
// cannot, wrapping eventstore.ErrUnavailable. Once it is not nil it stays
// so: the store has to be reopened.
func (s *Store) Health() error { return s.health.failure() }

// Failed is closed when the store stops being able to write; Health then
// says why.
func (s *Store) Failed() <-chan struct{} { return s.health.failed }

// readErr gives a read's error the damaged file's name when pebble found
// one damaged, and converts what a panic on damaged data left.
func (s *Store) readErr(err error) error {
	if err == nil {
		return nil
	}
	var de *DamagedError
	if errors.As(err, &de) {
		return err
	}
	if pebble.IsCorruptionError(err) || errors.Is(err, errCorrupt) || errors.Is(err, errCorruptIndex) {
		if p := s.health.err.Load(); p != nil && errors.As(*p, &de) {
			return &DamagedError{Dir: s.health.dir, File: de.File, Err: err}
		}
		return &DamagedError{Dir: s.health.dir, Err: err}
	}
	return err
}

// recoverRead turns a panic of a read over damaged data into an error;
// pebble's invariants can panic where a damaged block decodes into
// nonsense that its checksums missed.
func (s *Store) recoverRead(err *error) {
	if r := recover(); r != nil {
		e := &DamagedError{Dir: s.health.dir, Err: fmt.Errorf("reading panicked: %v", r)}
		s.health.fail(e)
		*err = e
	}
}
