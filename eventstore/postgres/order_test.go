package postgres_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/postgres"
	"github.com/videologue/videologue/internal/testenv/pgtest"
)

// TestOrderAcrossNodes is the classic problem of a log in SQL: appenders
// whose transactions commit out of order would let a reader see position
// P+1 before P, move past it and never see P. Several stores (several
// nodes, each with its own committer and pool) append to one schema at
// once, some of them racing for the same revisions of one stream, while
// readers tail the log the way a subscription does, from the position
// after the last they saw. This backend's positions have no gaps, so each
// reader must see exactly the next position every time, never a jump.
func TestOrderAcrossNodes(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	const nodes, writers, appends, streams = 3, 8, 30, 5
	stores := make([]*postgres.Store, nodes)
	for n := range stores {
		stores[n] = openStore(t, url, schema, postgres.Config{})
	}
	ctx := t.Context()

	stop := make(chan struct{})
	var readers sync.WaitGroup
	var mu sync.Mutex
	tails := 0
	for n, s := range stores {
		readers.Go(func() { // tails the log forwards, in small pages
			last := uint64(0)
			for stopping := false; ; {
				select {
				case <-stop:
					stopping = true
				default:
				}
				evs, err := s.ReadAll(ctx, eventstore.Forwards, last+1, 7)
				if err != nil {
					t.Errorf("reader %d: %v", n, err)
					return
				}
				for _, ev := range evs {
					if ev.Position != last+1 {
						t.Errorf("reader %d read position %d right after %d: position %d was skipped, or appeared late", n, ev.Position, last, last+1)
						return
					}
					last = ev.Position
				}
				if stopping && len(evs) == 0 {
					mu.Lock()
					tails++
					mu.Unlock()
					return
				}
			}
		})
		readers.Go(func() { // reads the newest events, backwards
			head := uint64(0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				evs, err := s.ReadAll(ctx, eventstore.Backwards, eventstore.End, 20)
				if err != nil {
					t.Errorf("backwards reader %d: %v", n, err)
					return
				}
				for i := 1; i < len(evs); i++ {
					if evs[i].Position != evs[i-1].Position-1 {
						t.Errorf("backwards reader %d: position %d follows %d: a hole below the newest event", n, evs[i].Position, evs[i-1].Position)
						return
					}
				}
				if len(evs) > 0 {
					if evs[0].Position < head {
						t.Errorf("backwards reader %d: the newest event is at %d, after %d", n, evs[0].Position, head)
						return
					}
					head = evs[0].Position
				}
			}
		})
	}

	type ack struct {
		stream string
		res    eventstore.AppendResult
		ids    []string
	}
	acks := make([][]ack, nodes*writers)
	var writing sync.WaitGroup
	for w := range nodes * writers {
		s := stores[w%nodes]
		writing.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			shared := eventstore.NoStream
			for a := 0; a < appends; {
				stream, exp := fmt.Sprintf("order-%d", rng.IntN(streams)), eventstore.Any
				if a%4 == 3 { // race the other writers for the next revision
					stream, exp = "order-shared", shared
				}
				evs := make([]eventstore.EventData, 1+rng.IntN(3))
				ids := make([]string, len(evs))
				for i := range evs {
					ids[i] = eventstore.NewID()
					evs[i] = eventstore.EventData{ID: ids[i], Type: "ordered.v1", Data: json.RawMessage(fmt.Sprintf(`{"w":%d,"a":%d,"i":%d}`, w, a, i))}
				}
				res, err := s.Append(ctx, stream, exp, evs...)
				var wre *eventstore.WrongExpectedRevisionError
				switch {
				case errors.As(err, &wre):
					shared = eventstore.Exact(uint64(wre.Actual))
					continue
				case err != nil:
					t.Errorf("writer %d: Append: %v", w, err)
					return
				}
				if stream == "order-shared" {
					shared = eventstore.Exact(res.NextExpected)
				}
				acks[w] = append(acks[w], ack{stream, res, ids})
				a++
			}
		})
	}
	writing.Wait()
	close(stop)
	readers.Wait()
	if t.Failed() {
		return
	}
	if tails != nodes {
		t.Fatalf("%d of %d tailing readers reached the end", tails, nodes)
	}

	var log []eventstore.RecordedEvent
	for {
		evs, err := stores[0].ReadAll(ctx, eventstore.Forwards, uint64(len(log))+1, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		log = append(log, evs...)
	}
	next := map[string]uint64{}
	h := eventstore.NewChainHasher()
	var prev [32]byte
	for i := range log {
		ev := &log[i]
		if ev.Position != uint64(i)+1 {
			t.Fatalf("event %d of the log is at position %d", i, ev.Position)
		}
		if ev.Revision != next[ev.Stream] {
			t.Fatalf("%s has revision %d at position %d, want %d", ev.Stream, ev.Revision, ev.Position, next[ev.Stream])
		}
		next[ev.Stream]++
		if want := h.Sum(prev, ev); ev.Hash != want {
			t.Fatalf("hash chain broken at position %d", ev.Position)
		}
		prev = ev.Hash
	}
	total := 0
	for _, as := range acks {
		for _, a := range as {
			total += len(a.ids)
			for j, id := range a.ids {
				ev := &log[a.res.FirstPosition+uint64(j)-1]
				if ev.ID != id || ev.Stream != a.stream {
					t.Fatalf("append %+v to %s: position %d holds %s in %s, want %s", a.res, a.stream, ev.Position, ev.ID, ev.Stream, id)
				}
			}
		}
	}
	if total != len(log) {
		t.Fatalf("the log holds %d events; the appenders were acknowledged %d", len(log), total)
	}
	t.Logf("%d events from %d nodes, %d appends each, in order; %d events in the contended stream", len(log), nodes, writers*appends, next["order-shared"])
}
