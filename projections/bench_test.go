package projections

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/videologue/videologue/internal/testenv"
)

// Benchmarks of the read models; results and commands are in
// docs/BENCHMARKS.md. The fixtures are built once per test
// binary in a temp dir that TestMain removes, or, when
// VIDEOLOGUE_BENCH_FIXTURES names a directory, kept there and reused.

var (
	benchRoot     string
	benchKeep     string // VIDEOLOGUE_BENCH_FIXTURES
	benchRootOnce sync.Once
	fixtures      sync.Map // name -> *fixture
)

type fixture struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchRoot != "" {
		os.RemoveAll(benchRoot)
	}
	os.Exit(code)
}

// benchLog returns the directory of a closed log holding genHistory's n
// events over the given users and videos, built once.
func benchLog(b *testing.B, users, videos, n int) string {
	b.Helper()
	benchRootOnce.Do(func() {
		if keep := os.Getenv("VIDEOLOGUE_BENCH_FIXTURES"); keep != "" {
			benchKeep = keep
			return
		}
		dir, err := os.MkdirTemp("", "videologue-projections-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchRoot = dir
	})
	name := fmt.Sprintf("log-%d-%d-%d", users, videos, n)
	f, _ := fixtures.LoadOrStore(name, &fixture{})
	fx := f.(*fixture)
	fx.once.Do(func() {
		if benchKeep != "" {
			fx.dir = filepath.Join(benchKeep, name)
			if _, err := os.Stat(filepath.Join(fx.dir, "complete")); err == nil {
				return
			}
			os.RemoveAll(fx.dir)
		} else {
			fx.dir = filepath.Join(benchRoot, name)
		}
		s := openStore(b, fx.dir)
		loadLog(b, s, genHistory(42, users, videos, n), 512)
		if err := s.Compact(context.Background()); err != nil {
			fx.err = err
		}
		if err := s.Close(); err != nil {
			fx.err = err
		}
		if fx.err == nil && benchKeep != "" {
			fx.err = os.WriteFile(filepath.Join(fx.dir, "complete"), nil, 0o644)
		}
	})
	if fx.err != nil || fx.dir == "" {
		b.Fatalf("building the fixture %s failed: %v", name, fx.err)
	}
	return fx.dir
}

// BenchmarkRebuild rebuilds every read model from a log of a million
// events (1,000 users, 100 videos) with the batched path, as
// `videologue projections rebuild` does.
func BenchmarkRebuild(b *testing.B) {
	dir := benchLog(b, 1000, 100, 1_000_000)
	log := openStore(b, dir)
	defer log.Close()
	head := headOf(b, log)
	cpu0 := testenv.CPUTime()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		db, err := Open(filepath.Join(b.TempDir(), fmt.Sprint(i)), DBConfig{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res := rebuild(b, db, log, Builtin(), Config{})
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		if res.Events != head {
			b.Fatalf("rebuilt %d events of %d", res.Events, head)
		}
	}
	b.ReportMetric(float64(head)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(head)*float64(b.N)/(testenv.CPUTime()-cpu0).Seconds(), "events/cpu-s")
}

// BenchmarkRunnerCatchUp builds every read model through the watermill
// router from a log of 100,000 events: the server's live path, for
// comparison with the batched rebuild.
func BenchmarkRunnerCatchUp(b *testing.B) {
	dir := benchLog(b, 1000, 100, 100_000)
	log := openStore(b, dir)
	defer log.Close()
	head := headOf(b, log)
	cpu0 := testenv.CPUTime()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		db, err := Open(filepath.Join(b.TempDir(), fmt.Sprint(i)), DBConfig{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		r, stop := startRunner(b, db, log, Builtin(), Config{})
		waitFor(b, r, head)
		stop()
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(head)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(head)*float64(b.N)/(testenv.CPUTime()-cpu0).Seconds(), "events/cpu-s")
}

// BenchmarkStateAt asks for the state of one video with 100,000 events
// (58% annotation events, the rest viewers), as of the middle and the end
// of its history.
func BenchmarkStateAt(b *testing.B) {
	dir := benchLog(b, 200, 1, 100_000)
	log := openStore(b, dir)
	defer log.Close()
	db, err := Open(filepath.Join(b.TempDir(), "rm"), DBConfig{CacheBytes: 256 << 20}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rebuild(b, db, log, Builtin(), Config{})
	if err := db.db.Flush(); err != nil { // as a running server's would be
		b.Fatal(err)
	}
	c, err := db.Counts(context.Background(), 1)
	if err != nil || c.Events < 100_000 {
		b.Fatalf("video 1 has %d events (%v)", c.Events, err)
	}
	mid := c.FirstAt.Add(c.LastAt.Sub(c.FirstAt) / 2)
	for _, tc := range []struct {
		name string
		at   time.Time
	}{{"middle", mid}, {"end", c.LastAt}} {
		b.Run(tc.name, func(b *testing.B) {
			var n int
			for range b.N {
				st, err := db.StateAt(context.Background(), 1, tc.at)
				if err != nil {
					b.Fatal(err)
				}
				n = len(st.Annotations)
			}
			b.ReportMetric(float64(n), "annotations")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
		})
	}
}
