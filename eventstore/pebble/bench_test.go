package pebble_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

// payload200 is a 200-byte event body, as in docs/BENCHMARKS.md.
var payload200 = []byte(`{"body":"` + string(make200()) + `"}`)

func make200() []byte {
	b := make([]byte, 200-len(`{"body":""}`))
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

func openBench(b testing.TB, dir string) *pebble.Store {
	b.Helper()
	s, err := pebble.Open(dir, pebble.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkAppendConcurrent: 64 writers, each appending one 200-byte event
// and waiting for durability before the next.
func BenchmarkAppendConcurrent(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := openBench(b, b.TempDir())
			defer s.Close()
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			lat := make([][]time.Duration, writers)
			b.SetBytes(int64(len(payload200)))
			b.ResetTimer()
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					stream := fmt.Sprintf("video-%d", w)
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						if _, err := s.Append(ctx, stream, eventstore.Any, eventstore.EventData{Type: "annotation_posted.v1", Data: payload200}); err != nil {
							b.Error(err)
							return
						}
						lat[w] = append(lat[w], time.Since(t0))
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			var all []time.Duration
			for _, l := range lat {
				all = append(all, l...)
			}
			if len(all) > 0 {
				sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
			}
		})
	}
}

// BenchmarkFdatasync is the floor for one durable write: a small write and
// fdatasync on a file in the same filesystem as the store.
func BenchmarkFdatasync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "f"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := payload200
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := fdatasync(f); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
}
