package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
)

func testAppendReadBack(t *testing.T, o opener) {
	s := o.fresh(t)
	in := []eventstore.EventData{
		{
			ID: eventstore.NewID(), Type: "video_created.v1",
			Data:     json.RawMessage(`{"title":"Fête \"1\" \u00e9","duration_ms":61000}`),
			Metadata: eventstore.Metadata{UserID: "u-1", CorrelationID: "c-1"}.Encode(),
		},
		// Whitespace must survive: the store keeps bytes, not parsed JSON.
		{ID: "client-chosen-2", Type: "annotation_posted.v1", Data: json.RawMessage("{ \"text\" : \"spaced\",\n \"at\": [1.5, 2e3] }")},
		{ID: eventstore.NewID(), Type: "video_published.v1"}, // no data, no metadata
		{ID: eventstore.NewID(), Type: "scalar.v1", Data: json.RawMessage(`42`), Metadata: json.RawMessage(`null`)},
	}
	want := make([]eventstore.EventData, len(in))
	for i, e := range in {
		want[i] = e
		want[i].Data = append(json.RawMessage(nil), e.Data...)
		want[i].Metadata = append(json.RawMessage(nil), e.Metadata...)
	}
	before := time.Now()
	res := appendOK(t, s, "video-1", eventstore.NoStream, in...)
	after := time.Now()
	if res.NextExpected != 3 {
		t.Errorf("NextExpected = %d after appending 4 events to a new stream, want 3", res.NextExpected)
	}
	// The store must have copied what it keeps: the caller may reuse its buffers.
	for i := range in[0].Data {
		in[0].Data[i] = 'x'
	}

	got := readStream(t, s, "video-1")
	if len(got) != len(in) {
		t.Fatalf("ReadStream: %d events, want %d", len(got), len(in))
	}
	for i := range want {
		checkRecorded(t, fmt.Sprintf("ReadStream event %d", i), &got[i], want[i], "video-1", uint64(i), res.FirstPosition+uint64(i), before, after)
	}
	sameEvents(t, "ReadAll against ReadStream", readAll(t, s), got, true)
	// Nor may a reader's changes reach the store.
	for i := range got[1].Data {
		got[1].Data[i] = 'y'
	}
	again := readStream(t, s, "video-1")
	checkRecorded(t, "event 1 read again after the reader changed its copy", &again[1], want[1], "video-1", 1, res.FirstPosition+1, before, after)

	more := numberedN(0, 2)
	before = time.Now()
	res2 := appendOK(t, s, "video-1", eventstore.Exact(res.NextExpected), more...)
	after = time.Now()
	if res2.NextExpected != 5 || res2.FirstPosition <= res.LastPosition {
		t.Errorf("second append: %+v after %+v; want NextExpected 5 and positions after %d", res2, res, res.LastPosition)
	}
	res3 := appendOK(t, s, "video-2", eventstore.NoStream, numbered(9))
	if res3.NextExpected != 0 || res3.FirstPosition <= res2.LastPosition {
		t.Errorf("append to another stream: %+v after %+v; want NextExpected 0 and positions after %d", res3, res2, res2.LastPosition)
	}
	got = readStream(t, s, "video-1")
	if len(got) != 6 {
		t.Fatalf("ReadStream after a second append: %d events, want 6", len(got))
	}
	for i, e := range more {
		checkRecorded(t, fmt.Sprintf("second append event %d", i), &got[4+i], e, "video-1", uint64(4+i), res2.FirstPosition+uint64(i), before, after)
	}
	log := readAll(t, s)
	if len(log) != 7 {
		t.Fatalf("ReadAll: %d events, want 7", len(log))
	}
	checkLog(t, s, log)
}

func testAssignedIDs(t *testing.T, o opener) {
	s := o.fresh(t)
	noID := func(n int) eventstore.EventData {
		e := numbered(n)
		e.ID = ""
		return e
	}
	appendOK(t, s, "ids", eventstore.Any, noID(0), noID(1), noID(2))
	appendOK(t, s, "ids", eventstore.Any, noID(3))
	appendOK(t, s, "other-ids", eventstore.Any, noID(4))
	log := readAll(t, s)
	seen := map[string]bool{}
	for i := range log {
		id := log[i].ID
		if id == "" || seen[id] {
			t.Fatalf("event %s: assigned ID %q is empty or not unique", describe(&log[i]), id)
		}
		seen[id] = true
	}
	// The ID is assigned once, when appended, not made up at each read.
	sameEvents(t, "ReadAll read twice", readAll(t, s), log, true)
	sameEvents(t, "ReadStream against ReadAll", readStream(t, s, "ids"), inStream(log, "ids"), true)
}

func testExpectedRevision(t *testing.T, o opener) {
	s := o.fresh(t)
	// A neighbour whose name extends every test stream's: a store that
	// matches stream names by prefix would see events where there are none.
	appendOK(t, s, "exp-0-neighbour", eventstore.Any, numbered(0))
	cases := []struct {
		name     string
		existing int // events in the stream before the append
		exp      eventstore.ExpectedRevision
		ok       bool
	}{
		{"any on no stream", 0, eventstore.Any, true},
		{"any on stream", 2, eventstore.Any, true},
		{"no stream on no stream", 0, eventstore.NoStream, true},
		{"no stream on stream", 2, eventstore.NoStream, false},
		{"no stream on one event", 1, eventstore.NoStream, false},
		{"stream exists on no stream", 0, eventstore.StreamExists, false},
		{"stream exists on stream", 2, eventstore.StreamExists, true},
		{"exact 0 on no stream", 0, eventstore.Exact(0), false},
		{"exact max on no stream", 0, eventstore.Exact(math.MaxUint64), false},
		{"exact 0 on one event", 1, eventstore.Exact(0), true},
		{"exact last", 3, eventstore.Exact(2), true},
		{"exact behind", 3, eventstore.Exact(1), false},
		{"exact 0 on stream", 3, eventstore.Exact(0), false},
		{"exact ahead", 3, eventstore.Exact(3), false},
		{"exact far ahead", 3, eventstore.Exact(1 << 40), false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stream := fmt.Sprintf("exp-%d", i)
			if c.existing > 0 {
				appendOK(t, s, stream, eventstore.NoStream, numberedN(0, c.existing)...)
			}
			head := headPosition(t, s)
			e := numbered(100)
			res, err := s.Append(t.Context(), stream, c.exp, e)
			if c.ok {
				if err != nil {
					t.Fatalf("Append(%s) to a stream of %d events: %v", c.exp, c.existing, err)
				}
				if res.NextExpected != uint64(c.existing) || res.FirstPosition <= head || res.LastPosition != res.FirstPosition {
					t.Errorf("Append(%s) = %+v, want NextExpected %d and one position after %d", c.exp, res, c.existing, head)
				}
				evs := readStream(t, s, stream)
				if len(evs) != c.existing+1 || evs[c.existing].ID != e.ID {
					t.Errorf("stream after the append: %s, want %d events ending with %s", listEvents(evs, len(evs)-1), c.existing+1, e.ID)
				}
				return
			}
			if !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
				t.Fatalf("Append(%s) to a stream of %d events: err = %v, want ErrWrongExpectedRevision", c.exp, c.existing, err)
			}
			var wre *eventstore.WrongExpectedRevisionError
			if !errors.As(err, &wre) {
				t.Fatalf("Append(%s): %v is not a *WrongExpectedRevisionError", c.exp, err)
			}
			if wre.Actual != int64(c.existing)-1 || wre.Stream != stream || wre.Expected != c.exp {
				t.Errorf("WrongExpectedRevisionError = %+v, want Stream %q, Expected %s, Actual %d", *wre, stream, c.exp, c.existing-1)
			}
			if h := headPosition(t, s); h != head {
				t.Errorf("a failed Append moved the head of the log from %d to %d", head, h)
			}
			if evs := readStream(t, s, stream); len(evs) != c.existing {
				t.Errorf("a failed Append left the stream with %d events, want %d", len(evs), c.existing)
			}
		})
	}
	checkLog(t, s, readAll(t, s))
}
