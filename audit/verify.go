// Package audit holds the auditors' check of the log itself: Verify walks
// the tamper-evident hash chain (see eventstore.ChainHasher) and names the
// first event that does not match.
package audit

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// Log is what Verify reads. A log that is also an eventstore.Scanner is
// walked with its ScanAll, which copies nothing per event.
type Log interface {
	ReadAll(ctx context.Context, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error)
}

// HeadRecorder is a log that records its head apart from its events
// (PostgreSQL's head row, moved in each append's transaction). Verify
// checks that the chain passes through it: events deleted from the end
// leave a chain that holds on its own, but not one that reaches the
// recorded head.
type HeadRecorder interface {
	Head(ctx context.Context) (position uint64, hash [32]byte, err error)
}

// HeadError says that the log's events do not reach the head it recorded.
type HeadError struct {
	Recorded     uint64   // the position the store recorded as its head
	RecordedHash [32]byte // and that event's hash
	Head         uint64   // the log's last event now (0: empty)
	Reason       string
}

func (e *HeadError) Error() string {
	return fmt.Sprintf("the store records its head at position %d (hash %s), but %s", e.Recorded, hex.EncodeToString(e.RecordedHash[:8]), e.Reason)
}

// ErrNoChain: the log's backend keeps no hash chain (its hashes are zero).
var ErrNoChain = errors.New("the log keeps no hash chain")

// MismatchError names the first event whose stored hash is not the hash
// of its content chained to the previous event's stored hash: that event
// or its predecessor was altered, or events between them were removed.
type MismatchError struct {
	Position uint64
	ID       string
	Stream   string
	Revision uint64
	Type     string
	// Previous is the position of the event it chains to (0 for the first
	// event of the log).
	Previous uint64
	Stored   [32]byte
	Computed [32]byte
	Reason   string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("event at position %d (%s revision %d, %s, id %s) does not match the hash chain: %s (stored %s, computed %s)",
		e.Position, e.Stream, e.Revision, e.Type, e.ID, e.Reason, hex.EncodeToString(e.Stored[:8]), hex.EncodeToString(e.Computed[:8]))
}

// Options tune Verify. The zero value is usable.
type Options struct {
	// Workers verify ranges of the log in parallel (default GOMAXPROCS):
	// each event's check needs only its predecessor's stored hash.
	Workers int
	// RangeSize is how many events one worker takes at a time (default
	// 65536).
	RangeSize int
	// Progress, if set, is called from the workers as ranges complete,
	// with the number of events verified so far and the head.
	Progress func(done, head uint64)
	// Anchors are positions and hashes recorded outside the log earlier
	// (a Report's Head and HeadHash): the log must still hold each, which
	// the chain alone cannot show when events were removed from its end
	// or the whole chain was recomputed over altered events.
	Anchors []Anchor
}

// Anchor is an event's position and stored hash, kept outside the log.
// Its text form, as ParseAnchor reads it, is "POSITION:HEXHASH".
type Anchor struct {
	Position uint64
	Hash     [32]byte
}

func (a Anchor) String() string {
	return fmt.Sprintf("%d:%s", a.Position, hex.EncodeToString(a.Hash[:]))
}

// ParseAnchor reads "POSITION:HEXHASH", as Anchor.String writes it.
func ParseAnchor(s string) (Anchor, error) {
	var a Anchor
	posText, hashText, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return a, fmt.Errorf("anchor %q: want POSITION:HASH, as verify prints it", s)
	}
	pos, err := strconv.ParseUint(posText, 10, 64)
	if err != nil || pos == 0 {
		return a, fmt.Errorf("anchor %q: the position must be a positive integer", s)
	}
	h, err := hex.DecodeString(hashText)
	if err != nil || len(h) != len(a.Hash) {
		return a, fmt.Errorf("anchor %q: the hash must be %d hexadecimal digits", s, 2*len(a.Hash))
	}
	a.Position = pos
	copy(a.Hash[:], h)
	return a, nil
}

// AnchorError says that the log no longer holds what an anchor recorded.
type AnchorError struct {
	Anchor Anchor
	Head   uint64 // the log's last position now (0: empty)
	Reason string
}

func (e *AnchorError) Error() string {
	return fmt.Sprintf("anchor %d:%s does not hold: %s", e.Anchor.Position, hex.EncodeToString(e.Anchor.Hash[:8]), e.Reason)
}

// Report is what a verification found.
type Report struct {
	Events   uint64   // events verified
	Head     uint64   // position of the last event
	HeadHash [32]byte // its hash: record it to detect a later truncation
	Elapsed  time.Duration
}

// Verify checks the whole log's hash chain: every event's stored hash must
// be the hash of its content chained to the stored hash of the event
// before it, positions must increase, and the first event chains to the
// zero hash. It returns the Report and, when the chain breaks, a
// *MismatchError naming the first event that does not match. Removing
// events from the end of the log, or recomputing the whole chain over
// altered events, cannot be seen from the log alone: a chain that holds is
// then checked against opts.Anchors, hashes recorded earlier, and the
// first that the log no longer holds is returned as an *AnchorError.
func Verify(ctx context.Context, log Log, opts Options) (Report, error) {
	start := time.Now()
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.RangeSize <= 0 {
		opts.RangeSize = 1 << 16
	}
	var rep Report
	// The recorded head is read before the last event: appends since
	// can only move the events past it.
	var recorded *Anchor
	if hr, ok := log.(HeadRecorder); ok {
		pos, hash, err := hr.Head(ctx)
		if err != nil {
			return rep, fmt.Errorf("audit: verify: %w", err)
		}
		if pos > 0 {
			recorded = &Anchor{Position: pos, Hash: hash}
		}
	}
	last, err := log.ReadAll(ctx, eventstore.Backwards, eventstore.End, 1)
	if err != nil {
		return rep, fmt.Errorf("audit: verify: %w", err)
	}
	if len(last) == 0 {
		if recorded != nil {
			return rep, &HeadError{Recorded: recorded.Position, RecordedHash: recorded.Hash, Reason: "the log holds no events: every event was deleted"}
		}
		if len(opts.Anchors) > 0 {
			return rep, &AnchorError{Anchor: opts.Anchors[0], Reason: "the log is empty: every event was removed"}
		}
		return rep, nil
	}
	rep.Head, rep.HeadHash = last[0].Position, last[0].Hash
	first, err := log.ReadAll(ctx, eventstore.Forwards, 0, 1)
	if err != nil {
		return rep, fmt.Errorf("audit: verify: %w", err)
	}
	if first[0].Hash == ([32]byte{}) && rep.HeadHash == ([32]byte{}) {
		return rep, ErrNoChain
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Uint64 // first position of the next range to take
		verified atomic.Uint64
		mu       sync.Mutex
		found    *MismatchError
		failed   error
		wg       sync.WaitGroup
	)
	next.Store(first[0].Position)
	report := func(m *MismatchError, err error) {
		mu.Lock()
		defer mu.Unlock()
		if m != nil && (found == nil || m.Position < found.Position) {
			found = m
		}
		if err != nil && failed == nil {
			failed = err
		}
	}
	// stop says whether a range from pos on can no longer matter: a
	// mismatch was found before it (ranges are taken in order, so every
	// range before the mismatch is being or has been verified).
	stop := func(pos uint64) bool {
		mu.Lock()
		defer mu.Unlock()
		return failed != nil || (found != nil && found.Position < pos)
	}
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := eventstore.NewChainHasher()
			for {
				lo := next.Add(uint64(opts.RangeSize)) - uint64(opts.RangeSize)
				if lo > rep.Head || stop(lo) {
					return
				}
				hi := min(lo+uint64(opts.RangeSize)-1, rep.Head)
				n, m, err := verifyRange(ctx, log, h, lo, hi)
				if err != nil && ctx.Err() == nil {
					report(nil, err)
					return
				}
				if m != nil {
					report(m, nil)
					return
				}
				done := verified.Add(n)
				if opts.Progress != nil {
					opts.Progress(done, rep.Head)
				}
			}
		}()
	}
	wg.Wait()
	rep.Events, rep.Elapsed = verified.Load(), time.Since(start)
	if failed != nil {
		return rep, fmt.Errorf("audit: verify: %w", failed)
	}
	if found != nil {
		return rep, found
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if recorded != nil {
		var ae *AnchorError
		if err := checkAnchor(ctx, log, *recorded, rep.Head); errors.As(err, &ae) {
			return rep, &HeadError{Recorded: recorded.Position, RecordedHash: recorded.Hash, Head: rep.Head, Reason: ae.Reason}
		} else if err != nil {
			return rep, err
		}
	}
	for _, a := range opts.Anchors {
		if err := checkAnchor(ctx, log, a, rep.Head); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// checkAnchor reports an *AnchorError if the log no longer holds a.
func checkAnchor(ctx context.Context, log Log, a Anchor, head uint64) error {
	if a.Position > head {
		return &AnchorError{Anchor: a, Head: head, Reason: fmt.Sprintf("the log now ends at position %d: events were removed from its end", head)}
	}
	evs, err := log.ReadAll(ctx, eventstore.Forwards, a.Position, 1)
	if err != nil {
		return fmt.Errorf("audit: verify: anchor at %d: %w", a.Position, err)
	}
	switch {
	case len(evs) == 0 || evs[0].Position != a.Position:
		return &AnchorError{Anchor: a, Head: head, Reason: fmt.Sprintf("there is no event at position %d any more: events were removed", a.Position)}
	case evs[0].Hash != a.Hash:
		return &AnchorError{Anchor: a, Head: head, Reason: fmt.Sprintf("the event at position %d has another hash now: the history up to it was rewritten and its chain recomputed", a.Position)}
	}
	return nil
}

// verifyRange checks the events with positions in [lo, hi] against the
// stored hash of the event before lo.
func verifyRange(ctx context.Context, log Log, h *eventstore.ChainHasher, lo, hi uint64) (uint64, *MismatchError, error) {
	prev, prevPos, err := before(ctx, log, lo)
	if err != nil {
		return 0, nil, err
	}
	var n uint64
	var mismatch *MismatchError
	err = eventstore.ScanAll(ctx, log, lo, hi, func(ev *eventstore.RecordedEvent) error {
		if mismatch = check(h, prev, prevPos, ev); mismatch != nil {
			return errMismatch
		}
		prev, prevPos = ev.Hash, ev.Position
		n++
		return nil
	})
	if mismatch != nil {
		return n, mismatch, nil
	}
	return n, nil, err
}

// before returns the stored hash and the position of the last event
// before pos, which the event at pos chains to: zeros and 0 at the start
// of the log.
func before(ctx context.Context, log Log, pos uint64) ([32]byte, uint64, error) {
	if pos <= 1 {
		return [32]byte{}, 0, nil
	}
	evs, err := log.ReadAll(ctx, eventstore.Backwards, pos-1, 1)
	if err != nil || len(evs) == 0 {
		return [32]byte{}, 0, err
	}
	return evs[0].Hash, evs[0].Position, nil
}

// errMismatch ends a scan at the first event that does not match.
var errMismatch = errors.New("hash mismatch")

func check(h *eventstore.ChainHasher, prev [32]byte, prevPos uint64, ev *eventstore.RecordedEvent) *MismatchError {
	sum := h.Sum(prev, ev)
	var reason string
	switch {
	case ev.Position <= prevPos:
		reason = fmt.Sprintf("position does not increase after %d", prevPos)
	case sum != ev.Hash:
		reason = "stored hash differs from the hash of the event's content and its predecessor's hash"
		if ev.Position != prevPos+1 {
			reason += fmt.Sprintf(" (events %d to %d are missing)", prevPos+1, ev.Position-1)
		}
	default:
		return nil
	}
	// The event's strings may point into the log's scan buffer: copy them.
	return &MismatchError{Position: ev.Position, ID: strings.Clone(ev.ID), Stream: strings.Clone(ev.Stream), Revision: ev.Revision, Type: strings.Clone(ev.Type),
		Previous: prevPos, Stored: ev.Hash, Computed: sum, Reason: reason}
}
