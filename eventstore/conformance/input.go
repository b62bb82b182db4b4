package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// sized returns an event whose Size is exactly size, data being a JSON
// string.
func sized(size int) eventstore.EventData {
	e := eventstore.EventData{Type: "sized.v1"}
	e.Data = json.RawMessage(`"` + strings.Repeat("a", size-len(e.Type)-2) + `"`)
	return e
}

func testBadInput(t *testing.T, o opener) {
	s := o.fresh(t)
	const target = "target"
	appendOK(t, s, target, eventstore.NoStream, numbered(0))
	good := numbered(1)
	withType := func(typ string) eventstore.EventData { e := numbered(2); e.Type = typ; return e }
	withData := func(data string) eventstore.EventData { e := numbered(2); e.Data = json.RawMessage(data); return e }
	withMeta := func(meta string) eventstore.EventData { e := numbered(2); e.Metadata = json.RawMessage(meta); return e }
	withID := func(id string) eventstore.EventData { e := numbered(2); e.ID = id; return e }
	sumTooLarge := eventstore.EventData{
		Type:     "sum.v1",
		Data:     sized(eventstore.MaxEventSize/2 + 10).Data,
		Metadata: sized(eventstore.MaxEventSize/2 + 10).Data,
	}
	cases := []struct {
		name   string
		stream string
		events []eventstore.EventData
		want   error
	}{
		{"empty stream name", "", []eventstore.EventData{good}, eventstore.ErrInvalidStream},
		{"$all", eventstore.AllStream, []eventstore.EventData{good}, eventstore.ErrInvalidStream},
		{"reserved $ prefix", "$x", []eventstore.EventData{good}, eventstore.ErrInvalidStream},
		{"NUL in name", "a\x00b", []eventstore.EventData{good}, eventstore.ErrInvalidStream},
		{"newline in name", "line\nbreak", []eventstore.EventData{good}, eventstore.ErrInvalidStream},
		{"tab in name", "tab\tin", []eventstore.EventData{good}, eventstore.ErrInvalidStream},
		{"DEL in name", "del\x7f", []eventstore.EventData{good}, eventstore.ErrInvalidStream},
		{"name too long", strings.Repeat("s", eventstore.MaxStreamNameLen+1), []eventstore.EventData{good}, eventstore.ErrInvalidStream},
		{"invalid UTF-8 name", "\xff\xfe", []eventstore.EventData{good}, eventstore.ErrInvalidStream},
		{"truncated UTF-8 name", "cut\xe2\x82", []eventstore.EventData{good}, eventstore.ErrInvalidStream},
		{"no events", target, nil, eventstore.ErrEmptyAppend},
		{"empty event list", target, []eventstore.EventData{}, eventstore.ErrEmptyAppend},
		{"empty type", target, []eventstore.EventData{withType("")}, eventstore.ErrInvalidEvent},
		{"type too long", target, []eventstore.EventData{withType(strings.Repeat("t", 129))}, eventstore.ErrInvalidEvent},
		{"invalid UTF-8 type", target, []eventstore.EventData{withType("bad\xff")}, eventstore.ErrInvalidEvent},
		{"ID too long", target, []eventstore.EventData{withID(strings.Repeat("i", 65))}, eventstore.ErrInvalidEvent},
		{"invalid UTF-8 ID", target, []eventstore.EventData{withID("id\xff")}, eventstore.ErrInvalidEvent},
		{"data not JSON", target, []eventstore.EventData{withData("not json")}, eventstore.ErrInvalidEvent},
		{"data truncated JSON", target, []eventstore.EventData{withData(`{"a":`)}, eventstore.ErrInvalidEvent},
		{"data two JSON values", target, []eventstore.EventData{withData(`{"a":1} {"b":2}`)}, eventstore.ErrInvalidEvent},
		{"data with an escaped lone surrogate", target, []eventstore.EventData{withData(`{"body":"\ud800"}`)}, eventstore.ErrInvalidEvent},
		{"data with an escaped lone low surrogate", target, []eventstore.EventData{withData(`{"body":"x\udc00"}`)}, eventstore.ErrInvalidEvent},
		{"metadata with an escaped lone surrogate", target, []eventstore.EventData{withMeta(`{"client_addr":"\udbff"}`)}, eventstore.ErrInvalidEvent},
		{"metadata not JSON", target, []eventstore.EventData{withMeta("nope")}, eventstore.ErrInvalidEvent},
		{"event too large", target, []eventstore.EventData{sized(eventstore.MaxEventSize + 1)}, eventstore.ErrEventTooLarge},
		{"type, data and metadata too large together", target, []eventstore.EventData{sumTooLarge}, eventstore.ErrEventTooLarge},
		{"too large to a new stream", "fresh", []eventstore.EventData{sized(2 * eventstore.MaxEventSize)}, eventstore.ErrEventTooLarge},
		{"valid then invalid", target, []eventstore.EventData{good, withData("{")}, eventstore.ErrInvalidEvent},
		{"valid then too large", "fresh", []eventstore.EventData{good, numbered(3), sized(eventstore.MaxEventSize + 1)}, eventstore.ErrEventTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			head := headPosition(t, s)
			_, err := s.Append(t.Context(), c.stream, eventstore.Any, c.events...)
			if !errors.Is(err, c.want) {
				t.Errorf("Append: err = %v, want %v", err, c.want)
			}
			if h := headPosition(t, s); h != head {
				t.Errorf("a rejected Append moved the head of the log from %d to %d", head, h)
			}
		})
	}
	if evs := readStream(t, s, target); len(evs) != 1 {
		t.Errorf("rejected appends left %q with %d events, want 1", target, len(evs))
	}
	if evs := readStream(t, s, "fresh"); len(evs) != 0 {
		t.Errorf("rejected appends left %q with %d events, want none", "fresh", len(evs))
	}
}

// testLimits appends what is just within every bound.
func testLimits(t *testing.T, o opener) {
	s := o.fresh(t)
	streams := []string{
		strings.Repeat("s", eventstore.MaxStreamNameLen),
		strings.Repeat("é", eventstore.MaxStreamNameLen/2),
		"vidéo/1 ñ 🎬",
		"a$",
		"video-1",
		"video-10", // video-1 is a prefix: each stream must read only its own events
		"video-1/x",
	}
	for i, stream := range streams {
		appendOK(t, s, stream, eventstore.NoStream, numbered(i))
	}
	largest := sized(eventstore.MaxEventSize)
	largest.ID = strings.Repeat("i", 64)
	largest.Data = largest.Data[64:] // make room for the ID
	largest.Data[0] = '"'
	if largest.Size() != eventstore.MaxEventSize {
		t.Fatalf("test bug: largest event has size %d", largest.Size())
	}
	longType := numbered(99)
	longType.Type = strings.Repeat("t", 128)
	before := time.Now()
	res := appendOK(t, s, "video-1", eventstore.Exact(0), largest, longType)
	after := time.Now()
	log := readAll(t, s)
	if len(log) != len(streams)+2 {
		t.Fatalf("log has %d events, want %d", len(log), len(streams)+2)
	}
	for i, stream := range streams {
		evs := readStream(t, s, stream)
		want := 1
		if stream == "video-1" {
			want = 3
		}
		if len(evs) != want || evs[0].Stream != stream || evs[0].Position != log[i].Position {
			t.Errorf("ReadStream(%q) = %s, want %d events starting at position %d", stream, listEvents(evs, 0), want, log[i].Position)
		}
	}
	evs := readStream(t, s, "video-1")
	if len(evs) == 3 {
		checkRecorded(t, "event of MaxEventSize", &evs[1], largest, "video-1", 1, res.FirstPosition, before, after)
		checkRecorded(t, "event with a 128-byte type", &evs[2], longType, "video-1", 2, res.LastPosition, before, after)
	}
	checkLog(t, s, log)
}

func testCancelledContext(t *testing.T, o opener) {
	s := o.fresh(t)
	appendOK(t, s, "a", eventstore.NoStream, numbered(0))
	head := headPosition(t, s)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{{"cancelled", cancelled, context.Canceled}, {"deadline", expired, context.DeadlineExceeded}} {
		if _, err := s.Append(c.ctx, "a", eventstore.Any, numbered(1)); !errors.Is(err, c.want) {
			t.Errorf("Append with a %s context: err = %v, want %v", c.name, err, c.want)
		}
		if _, err := s.Append(c.ctx, "new", eventstore.NoStream, numbered(1)); !errors.Is(err, c.want) {
			t.Errorf("Append to a new stream with a %s context: err = %v, want %v", c.name, err, c.want)
		}
		if _, err := s.ReadStream(c.ctx, "a", eventstore.Forwards, 0, 10); !errors.Is(err, c.want) {
			t.Errorf("ReadStream with a %s context: err = %v, want %v", c.name, err, c.want)
		}
		if _, err := s.ReadAll(c.ctx, eventstore.Backwards, eventstore.End, 10); !errors.Is(err, c.want) {
			t.Errorf("ReadAll with a %s context: err = %v, want %v", c.name, err, c.want)
		}
		// A subscription may refuse to start, or start and end at once as if
		// cancelled later: either way it ends without a store error.
		for _, tg := range targets() {
			sub, err := tg.subscribe(c.ctx, s, eventstore.Start(), eventstore.SubscribeOptions{})
			if err != nil {
				if !errors.Is(err, c.want) {
					t.Errorf("%s with a %s context: err = %v, want %v", tg.name, c.name, err, c.want)
				}
				continue
			}
			drain(t, sub)
			if err := sub.Err(); err != nil {
				t.Errorf("%s with a %s context ended with %v, want nil", tg.name, c.name, err)
			}
		}
	}
	if h := headPosition(t, s); h != head {
		t.Errorf("appends with a done context moved the head from %d to %d", head, h)
	}
}
