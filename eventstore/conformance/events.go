package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// numbered returns an event with a fresh ID whose data carries n.
func numbered(n int) eventstore.EventData {
	return eventstore.EventData{
		ID:   eventstore.NewID(),
		Type: "numbered.v1",
		Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)),
	}
}

// numberedN returns count numbered events, from n.
func numberedN(n, count int) []eventstore.EventData {
	evs := make([]eventstore.EventData, count)
	for i := range evs {
		evs[i] = numbered(n + i)
	}
	return evs
}

// describe names an event in failure messages.
func describe(ev *eventstore.RecordedEvent) string {
	return fmt.Sprintf("%s@%d pos %d id %s", ev.Stream, ev.Revision, ev.Position, ev.ID)
}

// diffEvent names the first field in which got differs from want, or
// returns "". Identity is ID, stream, revision and position; full adds the
// content, the time and the hash.
func diffEvent(got, want *eventstore.RecordedEvent, full bool) string {
	switch {
	case got.ID != want.ID:
		return fmt.Sprintf("ID %q, want %q", got.ID, want.ID)
	case got.Stream != want.Stream:
		return fmt.Sprintf("Stream %q, want %q", got.Stream, want.Stream)
	case got.Revision != want.Revision:
		return fmt.Sprintf("Revision %d, want %d", got.Revision, want.Revision)
	case got.Position != want.Position:
		return fmt.Sprintf("Position %d, want %d", got.Position, want.Position)
	case !full:
		return ""
	case got.Type != want.Type:
		return fmt.Sprintf("Type %q, want %q", got.Type, want.Type)
	case !bytes.Equal(got.Data, want.Data):
		return fmt.Sprintf("Data %q, want %q", got.Data, want.Data)
	case !bytes.Equal(got.Metadata, want.Metadata):
		return fmt.Sprintf("Metadata %q, want %q", got.Metadata, want.Metadata)
	case !got.RecordedAt.Equal(want.RecordedAt):
		return fmt.Sprintf("RecordedAt %v, want %v", got.RecordedAt, want.RecordedAt)
	case got.Hash != want.Hash:
		return fmt.Sprintf("Hash %x, want %x", got.Hash, want.Hash)
	}
	return ""
}

// sameEvents fails t unless got and want are the same events in the same
// order (see diffEvent for full).
func sameEvents(t testing.TB, what string, got, want []eventstore.RecordedEvent, full bool) {
	t.Helper()
	for i := 0; i < len(got) && i < len(want); i++ {
		if d := diffEvent(&got[i], &want[i], full); d != "" {
			t.Fatalf("%s: event %d is %s: %s\n got: %s\nwant: %s", what, i, describe(&got[i]), d, listEvents(got, i), listEvents(want, i))
		}
	}
	if len(got) != len(want) {
		n := min(len(got), len(want))
		t.Fatalf("%s: %d events, want %d\n got: %s\nwant: %s", what, len(got), len(want), listEvents(got, n), listEvents(want, n))
	}
}

// listEvents describes the events around index i.
func listEvents(evs []eventstore.RecordedEvent, i int) string {
	lo, hi := max(0, i-3), min(len(evs), i+4)
	var b strings.Builder
	if lo > 0 {
		b.WriteString("… ")
	}
	for j := lo; j < hi; j++ {
		fmt.Fprintf(&b, "[%d] %s; ", j, describe(&evs[j]))
	}
	if hi < len(evs) {
		b.WriteString("…")
	}
	if len(evs) == 0 {
		b.WriteString("(none)")
	}
	return b.String()
}

// checkRecorded checks an event read back against what was appended, at
// stream revision rev and position pos, by an append that ran between
// before and after.
func checkRecorded(t testing.TB, what string, got *eventstore.RecordedEvent, want eventstore.EventData, stream string, rev, pos uint64, before, after time.Time) {
	t.Helper()
	switch {
	case want.ID != "" && got.ID != want.ID:
		t.Errorf("%s: ID %q, want %q", what, got.ID, want.ID)
	case want.ID == "" && got.ID == "":
		t.Errorf("%s: appended without an ID and read back without one; the store must assign it", what)
	}
	if got.Type != want.Type {
		t.Errorf("%s: Type %q, want %q", what, got.Type, want.Type)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Errorf("%s: Data %q, want %q byte for byte", what, got.Data, want.Data)
	}
	if !bytes.Equal(got.Metadata, want.Metadata) {
		t.Errorf("%s: Metadata %q, want %q byte for byte", what, got.Metadata, want.Metadata)
	}
	if got.Stream != stream {
		t.Errorf("%s: Stream %q, want %q", what, got.Stream, stream)
	}
	if got.Revision != rev {
		t.Errorf("%s: Revision %d, want %d", what, got.Revision, rev)
	}
	if got.Position != pos {
		t.Errorf("%s: Position %d, want %d", what, got.Position, pos)
	}
	if got.RecordedAt.IsZero() || got.RecordedAt.Before(before.Add(-clockSkew)) || got.RecordedAt.After(after.Add(clockSkew)) {
		t.Errorf("%s: RecordedAt %v, want between %v and %v (±%v)", what, got.RecordedAt, before, after, clockSkew)
	}
}
