package projections

import (
	"context"
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/videologue/videologue/eventstore"
)

// measureLag samples, every LagInterval until ctx ends, how far each
// projection is behind the head of the log: in events, and in seconds
// since the oldest event it has not applied was recorded (0 when caught
// up). Scrapes read the last sample.
func (e *Engine) measureLag(ctx context.Context) {
	for {
		e.sampleLag(ctx)
		if !sleep(ctx, e.cfg.LagInterval) {
			return
		}
	}
}

func (e *Engine) sampleLag(ctx context.Context) {
	last, err := e.log.ReadAll(ctx, eventstore.Backwards, eventstore.End, 1)
	if err != nil || len(last) == 0 {
		return
	}
	head := last[0].Position
	now := e.cfg.Now()
	for _, st := range e.states {
		cp := st.cp.Load()
		if cp >= head {
			st.lagN.Store(0)
			st.lagS.Store(math.Float64bits(0))
			continue
		}
		st.lagN.Store(head - cp)
		next, err := e.log.ReadAll(ctx, eventstore.Forwards, cp+1, 1)
		if err != nil || len(next) == 0 {
			continue
		}
		st.lagS.Store(math.Float64bits(max(0, now.Sub(next[0].RecordedAt).Seconds())))
	}
}

var (
	descLagEvents  = prometheus.NewDesc("videologue_projection_lag_events", "Events in the log that the projection has not applied yet.", []string{"projection"}, nil)
	descLagSeconds = prometheus.NewDesc("videologue_projection_lag_seconds", "Seconds since the oldest event the projection has not applied was recorded; 0 when caught up.", []string{"projection"}, nil)
	descCheckpoint = prometheus.NewDesc("videologue_projection_checkpoint_position", "Global log position of the last event the projection applied.", []string{"projection"}, nil)
	descApplied    = prometheus.NewDesc("videologue_projection_events_applied_total", "Events applied by this process.", []string{"projection"}, nil)
	descPoisoned   = prometheus.NewDesc("videologue_projection_events_poisoned_total", "Events this process sent to the poison queue.", []string{"projection"}, nil)
	descRedeliver  = prometheus.NewDesc("videologue_projection_redeliveries_total", "Messages delivered again after a Nack.", nil, nil)
	descStopped    = prometheus.NewDesc("videologue_projection_stopped", "1 when the projection has stopped (an event it could not apply) or cannot write its read model; /readyz then answers 503.", []string{"projection"}, nil)
)

// collector reports, per projection, its lag in events and seconds, its
// checkpoint, its applied and poisoned counts, and whether it stopped.
type collector struct{ e *Engine }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLagEvents, descLagSeconds, descCheckpoint, descApplied, descPoisoned, descRedeliver, descStopped} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.e.states {
		name := st.p.Name()
		ch <- prometheus.MustNewConstMetric(descLagEvents, prometheus.GaugeValue, float64(st.lagN.Load()), name)
		ch <- prometheus.MustNewConstMetric(descLagSeconds, prometheus.GaugeValue, math.Float64frombits(st.lagS.Load()), name)
		ch <- prometheus.MustNewConstMetric(descCheckpoint, prometheus.GaugeValue, float64(st.cp.Load()), name)
		ch <- prometheus.MustNewConstMetric(descApplied, prometheus.CounterValue, float64(st.applied.Load()), name)
		ch <- prometheus.MustNewConstMetric(descPoisoned, prometheus.CounterValue, float64(st.poisoned.Load()), name)
		stopped := 0.0
		if st.stopped.Load() != nil || st.failing.Load() != nil {
			stopped = 1
		}
		ch <- prometheus.MustNewConstMetric(descStopped, prometheus.GaugeValue, stopped, name)
	}
	c.e.mu.Lock()
	sub := c.e.sub
	c.e.mu.Unlock()
	var n uint64
	if sub != nil {
		n = sub.Redelivered()
	}
	ch <- prometheus.MustNewConstMetric(descRedeliver, prometheus.CounterValue, float64(n))
}
