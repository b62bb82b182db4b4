package conformance

import (
	"testing"

	"github.com/videologue/videologue/eventstore"
)

// readPage is the limit of the suite's own paged reads: small enough that
// logs of a few thousand events take several pages.
const readPage = 500

// appendOK appends and fails t on error. It also checks what the result
// promises about itself: n events take n contiguous positions.
func appendOK(t testing.TB, s eventstore.Store, stream string, exp eventstore.ExpectedRevision, evs ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(t.Context(), stream, exp, evs...)
	if err != nil {
		t.Fatalf("Append(%q, %v, %d events): %v", stream, exp, len(evs), err)
	}
	if res.FirstPosition == 0 || res.LastPosition-res.FirstPosition != uint64(len(evs)-1) {
		t.Fatalf("Append(%q, %d events) = positions %d..%d, want %d contiguous positions from 1 or more",
			stream, len(evs), res.FirstPosition, res.LastPosition, len(evs))
	}
	return res
}

// readAll returns the whole log, read forwards in pages.
func readAll(t testing.TB, s eventstore.Store) []eventstore.RecordedEvent {
	t.Helper()
	var all []eventstore.RecordedEvent
	from := uint64(0)
	for {
		page, err := s.ReadAll(t.Context(), eventstore.Forwards, from, readPage)
		if err != nil {
			t.Fatalf("ReadAll(forwards, %d, %d): %v", from, readPage, err)
		}
		if len(page) > readPage {
			t.Fatalf("ReadAll(forwards, %d, %d) returned %d events", from, readPage, len(page))
		}
		all = append(all, page...)
		if len(page) < readPage {
			return all
		}
		from = page[len(page)-1].Position + 1
	}
}

// readStream returns a whole stream, read forwards in pages.
func readStream(t testing.TB, s eventstore.Store, stream string) []eventstore.RecordedEvent {
	t.Helper()
	var all []eventstore.RecordedEvent
	from := uint64(0)
	for {
		page, err := s.ReadStream(t.Context(), stream, eventstore.Forwards, from, readPage)
		if err != nil {
			t.Fatalf("ReadStream(%q, forwards, %d, %d): %v", stream, from, readPage, err)
		}
		if len(page) > readPage {
			t.Fatalf("ReadStream(%q, forwards, %d, %d) returned %d events", stream, from, readPage, len(page))
		}
		all = append(all, page...)
		if len(page) < readPage {
			return all
		}
		from = page[len(page)-1].Revision + 1
	}
}

// headPosition is the position of the last event, 0 for an empty log.
func headPosition(t testing.TB, s eventstore.Store) uint64 {
	t.Helper()
	evs, err := s.ReadAll(t.Context(), eventstore.Backwards, eventstore.End, 1)
	if err != nil {
		t.Fatalf("ReadAll(backwards, End, 1): %v", err)
	}
	if len(evs) == 0 {
		return 0
	}
	return evs[0].Position
}

// checkLog checks the shape every log has: positions from 1, strictly
// increasing; each stream's revisions contiguous from 0; and each stream as
// ReadStream returns it equal to its events in the log. It returns the
// number of streams.
func checkLog(t testing.TB, s eventstore.Store, log []eventstore.RecordedEvent) int {
	t.Helper()
	next := map[string]uint64{}
	var order []string
	for i := range log {
		ev := &log[i]
		if ev.Position == 0 || i > 0 && ev.Position <= log[i-1].Position {
			t.Fatalf("log: event %d has position %d after %d; positions must start at 1 and strictly increase", i, ev.Position, prevPos(log, i))
		}
		n, seen := next[ev.Stream]
		if !seen {
			order = append(order, ev.Stream)
		}
		if ev.Revision != n {
			t.Fatalf("log: stream %q has revision %d at position %d, want %d: revisions must be contiguous from 0", ev.Stream, ev.Revision, ev.Position, n)
		}
		next[ev.Stream] = n + 1
	}
	for _, stream := range order {
		sameEvents(t, "ReadStream("+stream+") against the log", readStream(t, s, stream), inStream(log, stream), true)
	}
	return len(order)
}

func prevPos(log []eventstore.RecordedEvent, i int) uint64 {
	if i == 0 {
		return 0
	}
	return log[i-1].Position
}

// inStream returns the events of log that belong to stream.
func inStream(log []eventstore.RecordedEvent, stream string) []eventstore.RecordedEvent {
	var out []eventstore.RecordedEvent
	for _, ev := range log {
		if ev.Stream == stream {
			out = append(out, ev)
		}
	}
	return out
}

// reversed returns a reversed copy of evs.
func reversed(evs []eventstore.RecordedEvent) []eventstore.RecordedEvent {
	out := make([]eventstore.RecordedEvent, len(evs))
	for i, ev := range evs {
		out[len(evs)-1-i] = ev
	}
	return out
}
