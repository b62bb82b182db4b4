package eventstore

import (
	"fmt"
	"math"
)

type expectKind uint8

const (
	expectAny expectKind = iota
	expectNoStream
	expectStreamExists
	expectExact
)

// ExpectedRevision is an append's optimistic concurrency condition.
// The zero value is Any.
type ExpectedRevision struct {
	kind expectKind
	rev  uint64
}

var (
	// Any appends whatever the stream's state.
	Any = ExpectedRevision{kind: expectAny}
	// NoStream appends only if the stream has no events.
	NoStream = ExpectedRevision{kind: expectNoStream}
	// StreamExists appends only if the stream has at least one event.
	StreamExists = ExpectedRevision{kind: expectStreamExists}
)

// Exact appends only if the stream's last revision is rev.
func Exact(rev uint64) ExpectedRevision { return ExpectedRevision{kind: expectExact, rev: rev} }

// Check reports whether a stream whose last revision is current (-1: no
// events) satisfies e.
func (e ExpectedRevision) Check(current int64) bool {
	switch e.kind {
	case expectNoStream:
		return current < 0
	case expectStreamExists:
		return current >= 0
	case expectExact:
		return current >= 0 && uint64(current) == e.rev
	default:
		return true
	}
}

// Revision returns the exact revision expected, and false when e is not Exact.
func (e ExpectedRevision) Revision() (uint64, bool) { return e.rev, e.kind == expectExact }

// IsAny, IsNoStream and IsStreamExists tell the kind of e.
func (e ExpectedRevision) IsAny() bool          { return e.kind == expectAny }
func (e ExpectedRevision) IsNoStream() bool     { return e.kind == expectNoStream }
func (e ExpectedRevision) IsStreamExists() bool { return e.kind == expectStreamExists }

func (e ExpectedRevision) String() string {
	switch e.kind {
	case expectNoStream:
		return "no stream"
	case expectStreamExists:
		return "stream exists"
	case expectExact:
		return fmt.Sprintf("revision %d", e.rev)
	default:
		return "any"
	}
}

// End, as the start of a read, means the last event: read backwards from
// End to get the newest events first.
const End uint64 = math.MaxUint64

// Direction of a read.
type Direction uint8

const (
	Forwards Direction = iota
	Backwards
)

// From is where a subscription starts. The zero value is Start.
type From struct {
	kind  uint8 // 0 start, 1 end, 2 after
	after uint64
}

// Start subscribes from the first event.
func Start() From { return From{} }

// FromEnd subscribes to what is appended after the subscription starts.
func FromEnd() From { return From{kind: 1} }

// After subscribes to the events after revision (stream) or position (all)
// n, exclusive: the position a client has already seen.
func After(n uint64) From { return From{kind: 2, after: n} }

// IsStart, IsEnd and After tell the kind of f.
func (f From) IsStart() bool { return f.kind == 0 }
func (f From) IsEnd() bool   { return f.kind == 1 }

// AfterValue returns n for After(n), and false for Start and FromEnd.
func (f From) AfterValue() (uint64, bool) { return f.after, f.kind == 2 }

func (f From) String() string {
	switch f.kind {
	case 1:
		return "end"
	case 2:
		return fmt.Sprintf("after %d", f.after)
	default:
		return "start"
	}
}
