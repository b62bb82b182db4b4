package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/videologue/videologue/eventstore"
)

// crashAck is a child's acknowledgement of one appended event.
type crashAck struct {
	stream   string
	rev, pos uint64
	id       string
}

// crashCheck is what the parent knows of the log after each kill.
type crashCheck struct {
	acks    []crashAck                 // every acknowledgement so far
	log     []eventstore.RecordedEvent // the log when last checked
	batches map[string]bool            // batches in log
}

// check checks the store after kill number round and keeps its log. The
// log checked before must still be there, unchanged, followed only by
// whole batches of the workload.
func (c *crashCheck) check(t testing.TB, s eventstore.Store, round int) {
	t.Helper()
	log := readAll(t, s)
	checkLog(t, s, log)
	if len(log) < len(c.log) {
		t.Fatalf("after kill %d: the log has %d events; before, it had %d", round, len(log), len(c.log))
	}
	for i := range c.log {
		if d := diffEvent(&log[i], &c.log[i], true); d != "" {
			t.Fatalf("after kill %d: %s, seen after the previous kill, changed: %s", round, describe(&log[i]), d)
		}
	}
	if c.batches == nil {
		c.batches = map[string]bool{}
	}
	// Batches are contiguous in the log: follow the one under way.
	type batchState struct {
		id   string
		want []eventstore.EventData
		last *eventstore.RecordedEvent
		i    int
	}
	var open *batchState
	for k := len(c.log); k < len(log); k++ {
		ev := &log[k]
		var d crashData
		if err := json.Unmarshal(ev.Data, &d); err != nil || !json.Valid(ev.Metadata) && len(ev.Metadata) > 0 {
			t.Fatalf("after kill %d: %s: data %q or metadata %q is not JSON (%v)", round, describe(ev), ev.Data, ev.Metadata, err)
		}
		b := crashBatch{d.Round, d.Writer, d.Seq}
		switch {
		case open == nil && d.I != 0:
			t.Fatalf("after kill %d: %s is event %d of batch %s, whose first events are missing: an append survived in part", round, describe(ev), d.I, b.id())
		case open == nil && c.batches[b.id()]:
			t.Fatalf("after kill %d: batch %s is in the log twice, again from %s", round, b.id(), describe(ev))
		case open == nil:
			open = &batchState{id: b.id(), want: b.events()}
			c.batches[b.id()] = true
		case b.id() != open.id || d.I != open.i+1:
			t.Fatalf("after kill %d: %s (batch %s event %d) follows event %d of the %d of batch %s: an append survived in part", round, describe(ev), b.id(), d.I, open.i, len(open.want), open.id)
		case ev.Position != open.last.Position+1 || ev.Revision != open.last.Revision+1:
			t.Fatalf("after kill %d: %s follows %s in its batch; a batch's events are contiguous", round, describe(ev), describe(open.last))
		}
		if d.I >= len(open.want) {
			t.Fatalf("after kill %d: %s: event %d of a batch of %d", round, describe(ev), d.I, len(open.want))
		}
		w := &open.want[d.I]
		if ev.ID != w.ID || ev.Type != w.Type || ev.Stream != b.stream() || !bytes.Equal(ev.Data, w.Data) || !bytes.Equal(ev.Metadata, w.Metadata) || ev.RecordedAt.IsZero() {
			t.Fatalf("after kill %d: %s holds type %q, data %q, metadata %q, recorded at %v; want %s in %s, type %q, data %q, metadata %q",
				round, describe(ev), ev.Type, ev.Data, ev.Metadata, ev.RecordedAt, w.ID, b.stream(), w.Type, w.Data, w.Metadata)
		}
		open.i, open.last = d.I, ev
		if d.I == len(open.want)-1 {
			open = nil
		}
	}
	if open != nil {
		t.Fatalf("after kill %d: the log ends with %s, event %d of a batch of %d: an append survived in part", round, describe(open.last), open.i, len(open.want))
	}
	byPos := make(map[uint64]*eventstore.RecordedEvent, len(log))
	for k := range log {
		byPos[log[k].Position] = &log[k]
	}
	for _, a := range c.acks {
		ev := byPos[a.pos]
		if ev == nil {
			t.Fatalf("after kill %d: acknowledged event %s (%s@%d, position %d) is gone", round, a.id, a.stream, a.rev, a.pos)
		}
		if ev.ID != a.id || ev.Stream != a.stream || ev.Revision != a.rev {
			t.Fatalf("after kill %d: acknowledged %s at %s@%d, position %d; the log holds %s there", round, a.id, a.stream, a.rev, a.pos, describe(ev))
		}
	}
	checkChain(t, log)
	c.log = log
}

// appendAfterCrashes appends to every stream of log expecting its last
// revision, and to a new stream: the store must have recovered where each
// stream and the log end.
func appendAfterCrashes(t testing.TB, s eventstore.Store, log []eventstore.RecordedEvent) {
	t.Helper()
	last := map[string]uint64{}
	for _, ev := range log {
		last[ev.Stream] = ev.Revision
	}
	head := uint64(0)
	if len(log) > 0 {
		head = log[len(log)-1].Position
	}
	for stream, rev := range last {
		res, err := s.Append(t.Context(), stream, eventstore.Exact(rev), numbered(0))
		if err != nil {
			t.Fatalf("after the crashes, Append(%s, Exact(%d)): %v", stream, rev, err)
		}
		if res.NextExpected != rev+1 || res.FirstPosition <= head {
			t.Fatalf("after the crashes, Append(%s, Exact(%d)) = %+v, want NextExpected %d after position %d", stream, rev, res, rev+1, head)
		}
	}
	appendOK(t, s, fmt.Sprintf("after-%d-crashes", len(log)), eventstore.NoStream, numbered(0))
	after := readAll(t, s)
	checkLog(t, s, after)
	checkChain(t, after)
}
