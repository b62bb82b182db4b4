package eventstore

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Store is the event log. Every method is safe for concurrent use.
type Store interface {
	// Append writes events to stream if expected holds, and returns once they
	// are durable. The events get contiguous revisions and positions and
	// become visible to readers together or not at all. On any error nothing
	// is written; a failed expectation is a *WrongExpectedRevisionError.
	Append(ctx context.Context, stream string, expected ExpectedRevision, events ...EventData) (AppendResult, error)

	// ReadStream returns at most limit events of stream, starting at
	// revision from (inclusive; End for the last) in direction dir. A stream
	// with no events gives an empty slice and no error.
	ReadStream(ctx context.Context, stream string, dir Direction, from uint64, limit int) ([]RecordedEvent, error)

	// ReadAll returns at most limit events of the whole log, starting at
	// global position from (inclusive; End for the last) in direction dir.
	ReadAll(ctx context.Context, dir Direction, from uint64, limit int) ([]RecordedEvent, error)

	// SubscribeToStream and SubscribeToAll deliver the events after from,
	// then a CaughtUp message, then live events, in order, each exactly
	// once. The subscription runs until ctx is done, Close is called, or the
	// store drops it (see Subscription.Err).
	SubscribeToStream(ctx context.Context, stream string, from From, opts SubscribeOptions) (*Subscription, error)
	SubscribeToAll(ctx context.Context, from From, opts SubscribeOptions) (*Subscription, error)

	// Close waits for pending appends, ends subscriptions and releases the
	// store. Further calls fail with ErrClosed.
	Close() error
}

// AppendResult tells where an append landed.
type AppendResult struct {
	// NextExpected is the stream's revision after the append: the value
	// to pass to Exact for the next append.
	NextExpected uint64
	// FirstPosition and LastPosition are the global positions of the first
	// and last appended events.
	FirstPosition, LastPosition uint64
}

// ValidateStream checks a stream name: 1 to MaxStreamNameLen bytes of valid
// UTF-8, no control characters, not starting with '$' (reserved).
func ValidateStream(stream string) error {
	if stream == "" || len(stream) > MaxStreamNameLen || strings.HasPrefix(stream, "$") || !printable(stream) {
		return ErrInvalidStream
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// ValidateAppend checks the arguments of an append the way every backend
// must, before anything is written.
func ValidateAppend(stream string, events []EventData) error {
	if err := ValidateStream(stream); err != nil {
		return err
	}
	if len(events) == 0 {
		return ErrEmptyAppend
	}
	for i := range events {
		e := &events[i]
		if e.Size() > MaxEventSize {
			return ErrEventTooLarge
		}
		if e.Type == "" || len(e.Type) > 128 || !printable(e.Type) || len(e.ID) > 64 || !printable(e.ID) {
			return ErrInvalidEvent
		}
		if !validJSON(e.Data) || !validJSON(e.Metadata) {
			return fmt.Errorf("event %d: data or metadata is not JSON, or escapes a lone UTF-16 surrogate (\\ud800 to \\udfff): %w", i, ErrInvalidEvent)
		}
	}
	return nil
}
