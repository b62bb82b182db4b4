package postgres_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/postgres"
	"github.com/videologue/videologue/internal/testenv/pgtest"
)

// payload200 is a 200-byte event body, as in docs/BENCHMARKS.md and the
// embedded backend's benchmarks.
var payload200 = []byte(`{"body":"` + string(make200()) + `"}`)

func make200() []byte {
	b := make([]byte, 200-len(`{"body":""}`))
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

func openBench(b *testing.B) *postgres.Store {
	b.Helper()
	s, _, _ := openBenchSchema(b)
	return s
}

func openBenchSchema(b *testing.B) (s *postgres.Store, url, schema string) {
	b.Helper()
	url = pgtest.URL(b)
	schema = pgtest.Schema(b, url)
	return openStore(b, url, schema, postgres.Config{}), url, schema
}

// reportGroups reports how many events the group commits held: a group's
// events share one recorded_at, read under the head lock.
func reportGroups(b *testing.B, url, schema string) {
	b.Helper()
	ctx := context.WithoutCancel(b.Context())
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var groups int64
	var mean, p10, p50, p90 float64
	err = conn.QueryRow(ctx, "SELECT count(*), avg(n), percentile_disc(0.1) WITHIN GROUP (ORDER BY n),"+
		" percentile_disc(0.5) WITHIN GROUP (ORDER BY n), percentile_disc(0.9) WITHIN GROUP (ORDER BY n)"+
		" FROM (SELECT count(*) AS n FROM "+pgx.Identifier{schema, "events"}.Sanitize()+" GROUP BY recorded_at) g").
		Scan(&groups, &mean, &p10, &p50, &p90)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(mean, "group-mean")
	b.ReportMetric(p10, "group-p10")
	b.ReportMetric(p50, "group-p50")
	b.ReportMetric(p90, "group-p90")
}

// BenchmarkAppendConcurrent: writers each append one 200-byte event and
// wait for it to be durable (committed with synchronous_commit on) before
// the next.
func BenchmarkAppendConcurrent(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, url, schema := openBenchSchema(b)
			ctx := b.Context()
			var next atomic.Int64
			var wg sync.WaitGroup
			lat := make([][]time.Duration, writers)
			b.SetBytes(int64(len(payload200)))
			b.ResetTimer()
			for w := range writers {
				wg.Go(func() {
					stream := fmt.Sprintf("video-%d", w)
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						if _, err := s.Append(ctx, stream, eventstore.Any, eventstore.EventData{Type: "annotation_posted.v1", Data: payload200}); err != nil {
							b.Error(err)
							return
						}
						lat[w] = append(lat[w], time.Since(t0))
					}
				})
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
			reportGroups(b, url, schema)
		})
	}
}

// fill appends n 200-byte events to s, in appends of up to 1000 events
// over 64 streams.
func fill(b *testing.B, ctx context.Context, s eventstore.Store, n int) {
	b.Helper()
	batch := make([]eventstore.EventData, 1000)
	for i := range batch {
		batch[i] = eventstore.EventData{Type: "annotation_posted.v1", Data: payload200}
	}
	for i := 0; i < n; i += len(batch) {
		if _, err := s.Append(ctx, fmt.Sprintf("video-%d", i/len(batch)%64), eventstore.Any, batch[:min(len(batch), n-i)]...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadAll reads the whole log from position 0, in pages of 4096.
func BenchmarkReadAll(b *testing.B) {
	s := openBench(b)
	ctx := b.Context()
	fill(b, ctx, s, b.N)
	b.SetBytes(int64(len(payload200)))
	b.ResetTimer()
	read := 0
	for from := uint64(0); ; {
		evs, err := s.ReadAll(ctx, eventstore.Forwards, from, 4096)
		if err != nil {
			b.Fatal(err)
		}
		read += len(evs)
		if len(evs) < 4096 {
			break
		}
		from = evs[len(evs)-1].Position + 1
	}
	b.StopTimer()
	if read != b.N {
		b.Fatalf("read %d events, want %d", read, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSubscribeCatchUp delivers the whole stored log to a
// subscription from the start, up to CaughtUp.
func BenchmarkSubscribeCatchUp(b *testing.B) {
	s := openBench(b)
	ctx := b.Context()
	fill(b, ctx, s, b.N)
	b.SetBytes(int64(len(payload200)))
	b.ResetTimer()
	sub, err := s.SubscribeToAll(ctx, eventstore.Start(), eventstore.SubscribeOptions{PageSize: 4096, Buffer: 4096})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	n := 0
	for m := range sub.Messages() {
		if m.CaughtUp {
			break
		}
		n++
	}
	b.StopTimer()
	if n != b.N {
		b.Fatalf("delivered %d events before CaughtUp, want %d (%v)", n, b.N, sub.Err())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
