package conformance

import (
	"fmt"
	"testing"

	"github.com/videologue/videologue/eventstore"
)

// readFixture appends ten events to streams a, b and c, interleaved, and
// returns the log it must have made, identity only (see diffEvent).
func readFixture(t testing.TB, s eventstore.Store) []eventstore.RecordedEvent {
	t.Helper()
	var want []eventstore.RecordedEvent
	for i, step := range []struct {
		stream string
		n      int
	}{{"a", 2}, {"b", 1}, {"a", 3}, {"c", 2}, {"b", 2}} {
		evs := numberedN(10*i, step.n)
		res := appendOK(t, s, step.stream, eventstore.Any, evs...)
		for j, e := range evs {
			want = append(want, eventstore.RecordedEvent{
				ID: e.ID, Stream: step.stream,
				Revision: res.NextExpected + 1 - uint64(step.n-j),
				Position: res.FirstPosition + uint64(j),
			})
		}
	}
	return want
}

type readCase struct {
	name  string
	dir   eventstore.Direction
	from  uint64
	limit int
	want  []eventstore.RecordedEvent
}

func (c readCase) String() string {
	dir := "forwards"
	if c.dir == eventstore.Backwards {
		dir = "backwards"
	}
	from := fmt.Sprint(c.from)
	if c.from == eventstore.End {
		from = "End"
	}
	return fmt.Sprintf("%s from %s limit %d", dir, from, c.limit)
}

func testReadAll(t *testing.T, o opener) {
	s := o.fresh(t)
	want := readFixture(t, s)
	first, last := want[0].Position, want[len(want)-1].Position
	read := func(dir eventstore.Direction, from uint64, limit int) []eventstore.RecordedEvent {
		t.Helper()
		evs, err := s.ReadAll(t.Context(), dir, from, limit)
		if err != nil {
			t.Fatalf("ReadAll(%v, %d, %d): %v", dir, from, limit, err)
		}
		return evs
	}
	for _, c := range []readCase{
		{"all", eventstore.Forwards, 0, 100, want},
		{"from the first", eventstore.Forwards, first, 100, want},
		{"from the fourth", eventstore.Forwards, want[3].Position, 3, want[3:6]},
		{"limit 1", eventstore.Forwards, 0, 1, want[:1]},
		{"from the last", eventstore.Forwards, last, 10, want[9:]},
		{"past the end", eventstore.Forwards, last + 1, 10, nil},
		{"backwards all", eventstore.Backwards, eventstore.End, 100, reversed(want)},
		{"backwards newest", eventstore.Backwards, eventstore.End, 1, want[9:]},
		{"backwards from the fifth", eventstore.Backwards, want[4].Position, 2, reversed(want[3:5])},
		{"backwards from the first", eventstore.Backwards, first, 10, want[:1]},
		{"backwards before the first", eventstore.Backwards, first - 1, 10, nil},
		{"backwards from past the end", eventstore.Backwards, last + 5, 3, reversed(want[7:])},
	} {
		sameEvents(t, "ReadAll "+c.name+" ("+c.String()+")", read(c.dir, c.from, c.limit), c.want, false)
	}
	// "End for the last" does not say whether forwards from End gives the
	// last event or nothing; both are accepted, nothing else.
	if evs := read(eventstore.Forwards, eventstore.End, 10); len(evs) > 0 {
		sameEvents(t, "ReadAll forwards from End", evs, want[9:], false)
	}

	full := readAll(t, s)
	sameEvents(t, "ReadAll", full, want, false)
	var pages []eventstore.RecordedEvent
	for from := uint64(0); ; {
		page := read(eventstore.Forwards, from, 3)
		pages = append(pages, page...)
		if len(page) < 3 {
			break
		}
		from = page[2].Position + 1
	}
	sameEvents(t, "ReadAll forwards in pages of 3", pages, full, true)
	pages = pages[:0]
	for from := eventstore.End; ; {
		page := read(eventstore.Backwards, from, 3)
		pages = append(pages, page...)
		if len(page) < 3 || page[2].Position == 0 {
			break
		}
		from = page[2].Position - 1
	}
	sameEvents(t, "ReadAll backwards in pages of 3", pages, reversed(full), true)
	checkLog(t, s, full)
}

func testReadStream(t *testing.T, o opener) {
	s := o.fresh(t)
	log := readFixture(t, s)
	a := inStream(log, "a")
	read := func(stream string, dir eventstore.Direction, from uint64, limit int) []eventstore.RecordedEvent {
		t.Helper()
		evs, err := s.ReadStream(t.Context(), stream, dir, from, limit)
		if err != nil {
			t.Fatalf("ReadStream(%q, %v, %d, %d): %v", stream, dir, from, limit, err)
		}
		return evs
	}
	for _, c := range []readCase{
		{"all", eventstore.Forwards, 0, 100, a},
		{"from 2 limit 2", eventstore.Forwards, 2, 2, a[2:4]},
		{"from the last", eventstore.Forwards, 4, 10, a[4:]},
		{"past the end", eventstore.Forwards, 5, 10, nil},
		{"backwards all", eventstore.Backwards, eventstore.End, 100, reversed(a)},
		{"backwards newest two", eventstore.Backwards, eventstore.End, 2, reversed(a[3:])},
		{"backwards from 1", eventstore.Backwards, 1, 10, reversed(a[:2])},
		{"backwards from 0", eventstore.Backwards, 0, 10, a[:1]},
		{"backwards from past the end", eventstore.Backwards, 100, 2, reversed(a[3:])},
	} {
		sameEvents(t, "ReadStream a "+c.name+" ("+c.String()+")", read("a", c.dir, c.from, c.limit), c.want, false)
	}
	if evs := read("a", eventstore.Forwards, eventstore.End, 10); len(evs) > 0 {
		sameEvents(t, "ReadStream forwards from End", evs, a[4:], false)
	}
	for _, stream := range []string{"b", "c"} {
		sameEvents(t, "ReadStream "+stream, read(stream, eventstore.Forwards, 0, 100), inStream(log, stream), false)
		sameEvents(t, "ReadStream "+stream+" backwards", read(stream, eventstore.Backwards, eventstore.End, 100), reversed(inStream(log, stream)), false)
	}

	var pages []eventstore.RecordedEvent
	for from := uint64(0); ; {
		page := read("a", eventstore.Forwards, from, 2)
		pages = append(pages, page...)
		if len(page) < 2 {
			break
		}
		from = page[1].Revision + 1
	}
	sameEvents(t, "ReadStream forwards in pages of 2", pages, a, false)
	pages = pages[:0]
	for from := eventstore.End; ; {
		page := read("a", eventstore.Backwards, from, 2)
		pages = append(pages, page...)
		if len(page) < 2 || page[1].Revision == 0 {
			break
		}
		from = page[1].Revision - 1
	}
	sameEvents(t, "ReadStream backwards in pages of 2", pages, reversed(a), false)
	checkLog(t, s, readAll(t, s))
}

func testEmptyReads(t *testing.T, o opener) {
	s := o.fresh(t)
	empty := func(what string, evs []eventstore.RecordedEvent, err error) {
		t.Helper()
		if err != nil || len(evs) != 0 {
			t.Errorf("%s = %d events, %v; want none and no error", what, len(evs), err)
		}
	}
	ctx := t.Context()
	evs, err := s.ReadAll(ctx, eventstore.Forwards, 0, 10)
	empty("ReadAll forwards of an empty log", evs, err)
	evs, err = s.ReadAll(ctx, eventstore.Backwards, eventstore.End, 10)
	empty("ReadAll backwards of an empty log", evs, err)
	evs, err = s.ReadAll(ctx, eventstore.Forwards, eventstore.End, 10)
	empty("ReadAll forwards from End of an empty log", evs, err)
	appendOK(t, s, "video-1", eventstore.NoStream, numbered(0))
	appendOK(t, s, "video-10", eventstore.NoStream, numbered(1))
	for _, stream := range []string{"none", "video", "video-", "video-100", "video-1x", "Video-1"} {
		evs, err = s.ReadStream(ctx, stream, eventstore.Forwards, 0, 10)
		empty(fmt.Sprintf("ReadStream(%q) forwards", stream), evs, err)
		evs, err = s.ReadStream(ctx, stream, eventstore.Backwards, eventstore.End, 10)
		empty(fmt.Sprintf("ReadStream(%q) backwards", stream), evs, err)
	}
}
