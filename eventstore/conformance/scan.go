package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/videologue/videologue/eventstore"
)

// testScanAll checks eventstore.ScanAll, which uses the store's own
// ScanAll when it has one, against ReadAll: every range, a callback that
// stops the walk, a callback that uses the store, and the error cases.
// The log is a few MiB so that a store that copies runs of it at a time
// must join several runs.
func testScanAll(t *testing.T, o opener) {
	s := o.fresh(t)
	pad := strings.Repeat("x", 900)
	for i := range 40 {
		evs := make([]eventstore.EventData, 100)
		for j := range evs {
			evs[j] = eventstore.EventData{Type: "padded.v1", Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":%q}`, i*100+j, pad)),
				Metadata: json.RawMessage(fmt.Sprintf(`{"user_id":"%d"}`, j))}
		}
		appendOK(t, s, fmt.Sprintf("scan-%d", i%7), eventstore.Any, evs...)
	}
	want := readAll(t, s)
	first, head := want[0].Position, want[len(want)-1].Position
	scan := func(from, to uint64) []eventstore.RecordedEvent {
		t.Helper()
		var got []eventstore.RecordedEvent
		err := eventstore.ScanAll(t.Context(), s, from, to, func(ev *eventstore.RecordedEvent) error {
			got = append(got, ev.Clone())
			return nil
		})
		if err != nil {
			t.Fatalf("ScanAll(%d, %d): %v", from, to, err)
		}
		return got
	}
	slice := func(from, to uint64) []eventstore.RecordedEvent {
		var out []eventstore.RecordedEvent
		for _, ev := range want {
			if ev.Position >= from && ev.Position <= to {
				out = append(out, ev)
			}
		}
		return out
	}
	mid := first + uint64(len(want)/2)
	for _, r := range [][2]uint64{
		{0, eventstore.End}, {first, head}, {first + 1, head - 1}, {mid, mid}, {mid, mid + 1500},
		{head, eventstore.End}, {head + 1, eventstore.End}, {mid, mid - 1}, {0, 0},
	} {
		sameEvents(t, fmt.Sprintf("ScanAll(%d, %d)", r[0], r[1]), scan(r[0], r[1]), slice(r[0], r[1]), true)
	}

	// The callback's error ends the walk and comes back unchanged.
	stop := errors.New("enough")
	calls := 0
	err := eventstore.ScanAll(t.Context(), s, 0, eventstore.End, func(*eventstore.RecordedEvent) error {
		if calls++; calls == 10 {
			return fmt.Errorf("at ten: %w", stop)
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 10 {
		t.Fatalf("a callback failing at the 10th event: ScanAll made %d calls and returned %v", calls, err)
	}

	// The callback may read and append: nothing of the store is held.
	var seen []eventstore.RecordedEvent
	err = eventstore.ScanAll(t.Context(), s, 0, head, func(ev *eventstore.RecordedEvent) error {
		if ev.Position == mid {
			if _, err := s.ReadAll(t.Context(), eventstore.Backwards, eventstore.End, 1); err != nil {
				return err
			}
			if _, err := s.Append(t.Context(), "scan-during", eventstore.Any, numbered(1)); err != nil {
				return err
			}
		}
		seen = append(seen, ev.Clone())
		return nil
	})
	if err != nil {
		t.Fatalf("ScanAll with a callback that reads and appends: %v", err)
	}
	sameEvents(t, "ScanAll with a callback that reads and appends", seen, want, true)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = eventstore.ScanAll(ctx, s, 0, eventstore.End, func(*eventstore.RecordedEvent) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ScanAll with a cancelled context: %v, want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err = eventstore.ScanAll(t.Context(), s, 0, eventstore.End, func(*eventstore.RecordedEvent) error { return nil })
	if !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("ScanAll on a closed store: %v, want ErrClosed", err)
	}
}
