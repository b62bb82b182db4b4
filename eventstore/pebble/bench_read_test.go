package pebble_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

const bigLog = 1_000_000

var (
	bigOnce sync.Once
	bigDir  string
)

// bigStore returns the directory of a closed store holding bigLog 200-byte
// events over 1,000 streams, built once per test binary. With
// VIDEOLOGUE_BENCH_LOG set, the store lives in that directory and is built
// only if the directory does not exist yet, so that runs can share it.
func bigStore(b *testing.B) string {
	bigOnce.Do(func() {
		dir := os.Getenv("VIDEOLOGUE_BENCH_LOG")
		if dir != "" {
			if _, err := os.Stat(dir); err == nil {
				bigDir = dir
				return
			}
		} else {
			var err error
			if dir, err = os.MkdirTemp("", "videologue-bench-"); err != nil {
				b.Fatal(err)
			}
		}
		s := openBench(b, dir)
		ctx := context.Background()
		batch := make([]eventstore.EventData, 1000)
		for i := range batch {
			batch[i] = eventstore.EventData{Type: "annotation_posted.v1", Data: payload200}
		}
		for i := 0; i < bigLog/len(batch); i++ {
			if _, err := s.Append(ctx, fmt.Sprintf("video-%d", i%1000), eventstore.Any, batch...); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Compact(ctx); err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		bigDir = dir
	})
	if bigDir == "" {
		b.Fatal("building the big store failed")
	}
	return bigDir
}

// benchWholeLog times read, which reads the whole big store and returns
// how many events it read, and reports events per second.
func benchWholeLog(b *testing.B, read func(ctx context.Context, s *pebble.Store) (int, error)) {
	s := openBench(b, bigStore(b))
	defer s.Close()
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		n, err := read(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		if n != bigLog {
			b.Fatalf("read %d events, want %d", n, bigLog)
		}
	}
	b.ReportMetric(float64(bigLog*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReadAll reads the whole log from position 0 in pages of 4,096.
func BenchmarkReadAll(b *testing.B) {
	benchWholeLog(b, func(ctx context.Context, s *pebble.Store) (int, error) {
		n := 0
		for from := uint64(1); ; {
			evs, err := s.ReadAll(ctx, eventstore.Forwards, from, 4096)
			if err != nil || len(evs) == 0 {
				return n, err
			}
			n += len(evs)
			from = evs[len(evs)-1].Position + 1
		}
	})
}

// BenchmarkScanAll walks the whole log from position 0 with ScanAll, the
// way the log's own readers of the whole log (audit verify, exports) do:
// each event is looked at and let go, nothing is copied per event.
func BenchmarkScanAll(b *testing.B) {
	benchWholeLog(b, func(ctx context.Context, s *pebble.Store) (int, error) {
		n, last := 0, uint64(0)
		err := s.ScanAll(ctx, 0, eventstore.End, func(ev *eventstore.RecordedEvent) error {
			if ev.Position != last+1 || len(ev.Data) == 0 {
				return fmt.Errorf("event at %d after %d with %d bytes of data", ev.Position, last, len(ev.Data))
			}
			n, last = n+1, ev.Position
			return nil
		})
		return n, err
	})
}

// BenchmarkOpen opens (and closes) a store of a million events.
func BenchmarkOpen(b *testing.B) {
	dir := bigStore(b)
	b.ResetTimer()
	var open time.Duration
	for range b.N {
		t0 := time.Now()
		s, err := pebble.Open(dir, pebble.Config{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		open += time.Since(t0)
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(open.Milliseconds())/float64(b.N), "ms/open")
}

// BenchmarkCatchUpSubscription delivers the million stored events to an
// in-process subscriber.
func BenchmarkCatchUpSubscription(b *testing.B) {
	s := openBench(b, bigStore(b))
	defer s.Close()
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		sub, err := s.SubscribeToAll(ctx, eventstore.Start(), eventstore.SubscribeOptions{PageSize: 4096, Buffer: 8192})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for m := range sub.Messages() {
			if m.CaughtUp {
				break
			}
			n++
		}
		sub.Close()
		if n != bigLog {
			b.Fatalf("delivered %d events, want %d", n, bigLog)
		}
	}
	b.ReportMetric(float64(bigLog*b.N)/b.Elapsed().Seconds(), "events/s")
}
