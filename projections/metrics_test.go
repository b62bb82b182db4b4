package projections

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestLagMetrics(t *testing.T) {
	e := newEnv(t)
	loadLog(t, e.log, genHistory(12, 3, 1, 300), 10)
	head := headOf(t, e.log)
	later := time.Now().Add(time.Minute)
	r := newEngine(t, e.db, e.log, Builtin(), Config{Now: func() time.Time { return later }, LagInterval: time.Hour})
	reg := prometheus.NewRegistry()
	if err := r.Register(reg); err != nil {
		t.Fatal(err)
	}
	r.sampleLag(context.Background())
	lag := func(name string) float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == NameActivity {
					return m.GetGauge().GetValue()
				}
			}
		}
		t.Fatalf("no %s for activity", name)
		return 0
	}
	if got := lag("videologue_projection_lag_events"); got != float64(head) {
		t.Fatalf("lag before running: %v events, want %d", got, head)
	}
	if got := lag("videologue_projection_lag_seconds"); got < 59 || got > 120 {
		t.Fatalf("lag before running: %v seconds, want about 60", got)
	}
	// The runner measures on its own when it starts.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitFor(t, r, head)
	r.sampleLag(context.Background())
	if got := lag("videologue_projection_lag_events"); got != 0 {
		t.Fatalf("lag after catching up: %v events", got)
	}
	if got := lag("videologue_projection_lag_seconds"); got != 0 {
		t.Fatalf("lag after catching up: %v seconds", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "videologue_projection_checkpoint_position" && len(mf.GetMetric()) != len(Builtin()) {
			t.Fatalf("%d checkpoint series, want one per projection", len(mf.GetMetric()))
		}
	}
}

// metricValue is the value of the engine's gauge name for projection p.
func metricValue(tb testing.TB, e *Engine, name, p string) float64 {
	tb.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(collector{e}); err != nil {
		tb.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == p {
				return m.GetGauge().GetValue()
			}
		}
	}
	tb.Fatalf("no %s for %s", name, p)
	return 0
}
