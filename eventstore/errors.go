package eventstore

import (
	"errors"
	"fmt"
)

// Sentinels that callers branch on with errors.Is.
var (
	// ErrWrongExpectedRevision: the stream was not at the revision the
	// append expected. Nothing was written.
	ErrWrongExpectedRevision = errors.New("wrong expected revision")
	// ErrInvalidStream: an empty, too long or malformed stream name.
	ErrInvalidStream = errors.New("invalid stream name")
	// ErrInvalidEvent: an event without a type, with data or metadata that is
	// not JSON (or escapes a lone surrogate), or with a malformed id.
	ErrInvalidEvent = errors.New("invalid event")
	// ErrEventTooLarge: an event over MaxEventSize.
	ErrEventTooLarge = errors.New("event too large")
	// ErrEmptyAppend: an append of no events.
	ErrEmptyAppend = errors.New("empty append")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store closed")
	// ErrUnavailable: the store cannot write (a full disk, a failed
	// fsync, a damaged file) until an operator acts; the wrapping error
	// says why. Nothing of the refused append was written.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrSubscriberTooSlow: a subscription fell too far behind the head of
	// the log and was dropped; SubscriptionDroppedError says where it was.
	ErrSubscriberTooSlow = errors.New("subscriber too slow")
)

// WrongExpectedRevisionError details ErrWrongExpectedRevision.
type WrongExpectedRevisionError struct {
	Stream   string
	Expected ExpectedRevision
	// Actual is the stream's current revision, or -1 when it has no events.
	Actual int64
}

func (e *WrongExpectedRevisionError) Error() string {
	actual := "no stream"
	if e.Actual >= 0 {
		actual = fmt.Sprintf("revision %d", e.Actual)
	}
	return fmt.Sprintf("append to %q: expected %s, stream is at %s: %v", e.Stream, e.Expected, actual, ErrWrongExpectedRevision)
}

func (e *WrongExpectedRevisionError) Unwrap() error { return ErrWrongExpectedRevision }

// SubscriptionDroppedError is the error of a subscription that the store
// ended. Resubscribing with After(Checkpoint) continues exactly where it
// stopped.
type SubscriptionDroppedError struct {
	Stream string // AllStream for a subscription to the whole log
	// Checkpoint is the revision (stream) or position (all) the
	// subscription had reached: the last it delivered, or the one it was
	// started after. Delivered is false when it had no such point (it
	// started from the beginning and delivered nothing): resubscribe from
	// Start then, and with After(Checkpoint) otherwise.
	Checkpoint uint64
	Delivered  bool
	Err        error
}

func (e *SubscriptionDroppedError) Error() string {
	where := "before its first event"
	if e.Delivered {
		where = fmt.Sprintf("after %d", e.Checkpoint)
	}
	return fmt.Sprintf("subscription to %s dropped %s: %v", e.Stream, where, e.Err)
}

func (e *SubscriptionDroppedError) Unwrap() error { return e.Err }

// Error gives context to a failed store operation, like io/fs.PathError.
type Error struct {
	Op     string // "append", "read", "subscribe", "open"
	Stream string
	Err    error
}

func (e *Error) Error() string {
	if e.Stream == "" {
		return "eventstore: " + e.Op + ": " + e.Err.Error()
	}
	return fmt.Sprintf("eventstore: %s %q: %v", e.Op, e.Stream, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }
