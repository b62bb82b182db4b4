package conformance

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/videologue/videologue/eventstore"
)

// batchEvents returns size events that name their batch, so that a reader
// can tell a whole batch from part of one.
func batchEvents(batch string, size int) []eventstore.EventData {
	evs := make([]eventstore.EventData, size)
	for i := range evs {
		evs[i] = eventstore.EventData{
			ID:   fmt.Sprintf("%s-%d", batch, i),
			Type: "batched.v1",
			Data: json.RawMessage(fmt.Sprintf(`{"batch":%q,"i":%d,"n":%d}`, batch, i, size)),
		}
	}
	return evs
}

type batchMark struct {
	Batch string `json:"batch"`
	I     int    `json:"i"`
	N     int    `json:"n"`
}

// checkBatches returns what is wrong with the batches in evs, read in
// order from a log or a stream: each batch must be whole, in order, in one
// stream, at contiguous positions and revisions.
func checkBatches(evs []eventstore.RecordedEvent) string {
	type state struct {
		mark batchMark
		last *eventstore.RecordedEvent
	}
	open := map[string]*state{}
	for i := range evs {
		ev := &evs[i]
		var m batchMark
		if err := json.Unmarshal(ev.Data, &m); err != nil || m.Batch == "" {
			return fmt.Sprintf("event %s: data %q is not a batch mark: %v", describe(ev), ev.Data, err)
		}
		st := open[m.Batch]
		switch {
		case st == nil && m.I != 0:
			return fmt.Sprintf("batch %s starts with its event %d of %d at %s: the events before it are missing", m.Batch, m.I, m.N, describe(ev))
		case st == nil:
			open[m.Batch] = &state{mark: m, last: ev}
		case m.I != st.mark.I+1 || ev.Position != st.last.Position+1 || ev.Revision != st.last.Revision+1 || ev.Stream != st.last.Stream:
			return fmt.Sprintf("batch %s: event %d at %s follows event %d at %s; a batch's events are contiguous", m.Batch, m.I, describe(ev), st.mark.I, describe(st.last))
		default:
			st.mark, st.last = m, ev
		}
	}
	for b, st := range open {
		if st.mark.I != st.mark.N-1 {
			return fmt.Sprintf("batch %s is partial: %d of %d events, the last at %s", b, st.mark.I+1, st.mark.N, describe(st.last))
		}
	}
	return ""
}

func testAtomicAppends(t *testing.T, o opener) {
	s := o.fresh(t)
	ctx := t.Context()
	const writers, batches, size = 4, 25, 5
	streams := []string{"atomic-0", "atomic-1"}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	var polls atomic.Int64
	poll := func(read func() ([]eventstore.RecordedEvent, error)) {
		for {
			select {
			case <-stop:
				return
			default:
			}
			evs, err := read()
			if err != nil {
				t.Errorf("read during appends: %v", err)
				return
			}
			if msg := checkBatches(evs); msg != "" {
				t.Errorf("a reader saw part of an append: %s", msg)
				return
			}
			polls.Add(1)
		}
	}
	readers.Go(func() {
		poll(func() ([]eventstore.RecordedEvent, error) { return s.ReadAll(ctx, eventstore.Forwards, 0, 1<<16) })
	})
	for _, stream := range streams {
		readers.Go(func() {
			poll(func() ([]eventstore.RecordedEvent, error) {
				return s.ReadStream(ctx, stream, eventstore.Forwards, 0, 1<<16)
			})
		})
	}
	var writing sync.WaitGroup
	for w := range writers {
		writing.Go(func() {
			for b := range batches {
				evs := batchEvents(fmt.Sprintf("w%d-b%d", w, b), size)
				if _, err := s.Append(ctx, streams[(w+b)%len(streams)], eventstore.Any, evs...); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
			}
		})
	}
	waitDone(t, "appenders", writing.Wait)
	close(stop)
	waitDone(t, "readers", readers.Wait)
	log := readAll(t, s)
	if msg := checkBatches(log); msg != "" {
		t.Fatal(msg)
	}
	if len(log) != writers*batches*size {
		t.Fatalf("log has %d events, want %d", len(log), writers*batches*size)
	}
	checkLog(t, s, log)
	t.Logf("%d reads during the appends", polls.Load())
}

// orderWatch follows what one reader has seen of the log.
type orderWatch struct {
	seen map[uint64]string // position -> event ID
	max  uint64
}

// observe checks a read of the whole log (forwards, or backwards when
// back) against what the reader saw before: known positions keep their
// event, none vanishes, and no new event appears at or below the highest
// position seen.
func (w *orderWatch) observe(evs []eventstore.RecordedEvent, back bool) string {
	known := 0
	for i := range evs {
		ev := &evs[i]
		if i > 0 && (!back && ev.Position <= evs[i-1].Position || back && ev.Position >= evs[i-1].Position) {
			return fmt.Sprintf("position %d follows %d in a read (backwards: %v)", ev.Position, evs[i-1].Position, back)
		}
		if id, ok := w.seen[ev.Position]; ok {
			if id != ev.ID {
				return fmt.Sprintf("position %d held event %s, now %s", ev.Position, id, ev.ID)
			}
			known++
			continue
		}
		if ev.Position <= w.max {
			return fmt.Sprintf("new event %s appeared after the reader had seen position %d", describe(ev), w.max)
		}
	}
	if known != len(w.seen) {
		return fmt.Sprintf("%d of the %d events seen before are gone", len(w.seen)-known, len(w.seen))
	}
	for i := range evs {
		w.seen[evs[i].Position] = evs[i].ID
		w.max = max(w.max, evs[i].Position)
	}
	return ""
}

// testGlobalOrder checks what the contract promises about order, with many
// appenders on many streams: positions strictly increase along the log (not
// necessarily contiguous across appends), revisions are contiguous from 0
// in each stream, and events become visible in position order, so a reader
// that has seen position P never later sees a new event below P.
func testGlobalOrder(t *testing.T, o opener) {
	s := o.fresh(t)
	ctx := t.Context()
	const writers, batches, streams = 8, 30, 5
	type acked struct {
		stream string
		res    eventstore.AppendResult
		ids    []string
	}
	results := make([][]acked, writers)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for _, back := range []bool{false, true} {
		readers.Go(func() {
			w := &orderWatch{seen: map[uint64]string{}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				var evs []eventstore.RecordedEvent
				var err error
				if back {
					evs, err = s.ReadAll(ctx, eventstore.Backwards, eventstore.End, 1<<16)
				} else {
					evs, err = s.ReadAll(ctx, eventstore.Forwards, 0, 1<<16)
				}
				if err != nil {
					t.Errorf("ReadAll during appends: %v", err)
					return
				}
				if msg := w.observe(evs, back); msg != "" {
					t.Errorf("reader of the whole log: %s", msg)
					return
				}
			}
		})
	}
	var writing sync.WaitGroup
	for w := range writers {
		writing.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for b := range batches {
				stream := fmt.Sprintf("order-%d", rng.IntN(streams))
				evs := batchEvents(fmt.Sprintf("w%d-b%d", w, b), 1+rng.IntN(3))
				res, err := s.Append(ctx, stream, eventstore.Any, evs...)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				a := acked{stream: stream, res: res}
				for _, e := range evs {
					a.ids = append(a.ids, e.ID)
				}
				results[w] = append(results[w], a)
			}
		})
	}
	waitDone(t, "appenders", writing.Wait)
	close(stop)
	waitDone(t, "readers", readers.Wait)

	log := readAll(t, s)
	checkLog(t, s, log)
	if msg := checkBatches(log); msg != "" {
		t.Fatal(msg)
	}
	byPos := make(map[uint64]*eventstore.RecordedEvent, len(log))
	for i := range log {
		byPos[log[i].Position] = &log[i]
	}
	total := 0
	for w := range results {
		for _, a := range results[w] {
			n := len(a.ids)
			total += n
			if a.res.LastPosition-a.res.FirstPosition != uint64(n-1) {
				t.Fatalf("append of %d events to %s returned positions %d..%d", n, a.stream, a.res.FirstPosition, a.res.LastPosition)
			}
			for j, id := range a.ids {
				ev := byPos[a.res.FirstPosition+uint64(j)]
				rev := a.res.NextExpected + 1 - uint64(n-j)
				if ev == nil || ev.ID != id || ev.Stream != a.stream || ev.Revision != rev {
					t.Fatalf("append result %+v: position %d should hold %s at %s@%d, holds %v", a.res, a.res.FirstPosition+uint64(j), id, a.stream, rev, ev)
				}
			}
		}
	}
	if total != len(log) {
		t.Fatalf("log has %d events, appenders acknowledged %d", len(log), total)
	}
	checkChain(t, log)
}

// checkChain verifies the hash chain of a whole log, from its first event,
// and reports whether the store keeps one (all hashes zero: it does not).
func checkChain(t testing.TB, log []eventstore.RecordedEvent) bool {
	t.Helper()
	var zero [32]byte
	kept := false
	for i := range log {
		kept = kept || log[i].Hash != zero
	}
	if !kept {
		return false
	}
	h := eventstore.NewChainHasher()
	prev := zero
	for i := range log {
		if want := h.Sum(prev, &log[i]); log[i].Hash != want {
			t.Fatalf("hash chain broken at %s: hash %x, want %x chained from %x", describe(&log[i]), log[i].Hash, want, prev)
		}
		prev = log[i].Hash
	}
	return true
}
