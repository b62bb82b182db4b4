package pebble_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/videologue/videologue/eventstore"
)

// TestReadsAgainstModel reads a log whose chunks hold many records, from
// appends of one to hundreds of events made concurrently, at random
// places, limits and directions, and checks every answer against what the
// appends returned. It covers the chunk boundaries the conformance suite's
// small logs never reach.
func TestReadsAgainstModel(t *testing.T) {
	s := openBench(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	type rec struct {
		stream string
		rev    uint64
		data   []byte
	}
	var mu sync.Mutex
	byPos := map[uint64]rec{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range 40 {
				stream := fmt.Sprintf("s-%d", rng.IntN(5))
				n := 1 + rng.IntN(300)
				evs := make([]eventstore.EventData, n)
				for i := range evs {
					evs[i] = eventstore.EventData{Type: "t.v1", Data: fmt.Appendf(nil, `{"w":%d,"i":%d,"pad":%q}`, w, i, bytes.Repeat([]byte("x"), rng.IntN(600)))}
				}
				res, err := s.Append(ctx, stream, eventstore.Any, evs...)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for i := range evs {
					byPos[res.FirstPosition+uint64(i)] = rec{stream, res.NextExpected + 1 - uint64(n-i), evs[i].Data}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	head := uint64(len(byPos))
	streams := map[string][]uint64{} // positions by revision
	for pos := uint64(1); pos <= head; pos++ {
		r, ok := byPos[pos]
		if !ok {
			t.Fatalf("no append returned position %d", pos)
		}
		if uint64(len(streams[r.stream])) != r.rev {
			t.Fatalf("position %d: revision %d out of order", pos, r.rev)
		}
		streams[r.stream] = append(streams[r.stream], pos)
	}
	check := func(what string, got []eventstore.RecordedEvent, want []uint64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
		}
		for i, ev := range got {
			r := byPos[want[i]]
			if ev.Position != want[i] || ev.Stream != r.stream || ev.Revision != r.rev || !bytes.Equal(ev.Data, r.data) || ev.Type != "t.v1" {
				t.Fatalf("%s: event %d is %d %s@%d, want %d %s@%d", what, i, ev.Position, ev.Stream, ev.Revision, want[i], r.stream, r.rev)
			}
		}
	}
	// Paging through the log, as subscriptions do.
	for _, page := range []int{1, 7, 100, 4096} {
		var all []uint64
		for p := uint64(1); p <= head; p++ {
			all = append(all, p)
		}
		var got []eventstore.RecordedEvent
		for from := uint64(1); ; {
			evs, err := s.ReadAll(ctx, eventstore.Forwards, from, page)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 0 {
				break
			}
			got = append(got, evs...)
			from = evs[len(evs)-1].Position + 1
		}
		check(fmt.Sprintf("paging by %d", page), got, all)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	limits := []int{1, 2, 3, 17, 100, 1000, 5000, 1 << 20}
	for range 300 {
		limit := limits[rng.IntN(len(limits))]
		wantN := min(limit, 1<<16) // the store's cap on one read
		from := rng.Uint64N(head + 3)
		if rng.IntN(10) == 0 {
			from = eventstore.End
		}
		dir := eventstore.Forwards
		if rng.IntN(2) == 0 {
			dir = eventstore.Backwards
		}
		// The whole log.
		var want []uint64
		if dir == eventstore.Forwards {
			for p := max(from, 1); p <= head && len(want) < wantN && from != eventstore.End; p++ {
				want = append(want, p)
			}
		} else {
			for p := min(from, head); p >= 1 && len(want) < wantN; p-- {
				want = append(want, p)
			}
		}
		got, err := s.ReadAll(ctx, dir, from, limit)
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("ReadAll(%v, %d, %d)", dir, from, limit), got, want)
		// One stream.
		stream := fmt.Sprintf("s-%d", rng.IntN(6))
		revs := streams[stream]
		from = rng.Uint64N(uint64(len(revs)) + 3)
		if rng.IntN(10) == 0 {
			from = eventstore.End
		}
		want = want[:0]
		if dir == eventstore.Forwards {
			for r := from; r < uint64(len(revs)) && len(want) < wantN && from != eventstore.End; r++ {
				want = append(want, revs[r])
			}
		} else if len(revs) > 0 {
			for r := int64(min(from, uint64(len(revs)-1))); r >= 0 && len(want) < wantN; r-- {
				want = append(want, revs[r])
			}
		}
		got, err = s.ReadStream(ctx, stream, dir, from, limit)
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("ReadStream(%s, %v, %d, %d)", stream, dir, from, limit), got, want)
	}
}
