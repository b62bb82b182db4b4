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
func (r *Runner) measureLag(ctx context.Context) {
	for {
		r.sampleLag(ctx)
		if !sleep(ctx, r.cfg.LagInterval) {
			return
		}
	}
}

func (r *Runner) sampleLag(ctx context.Context) {
	last, err := r.log.ReadAll(ctx, eventstore.Backwards, eventstore.End, 1)
	if err != nil || len(last) == 0 {
		return
	}
	head := last[0].Position
	now := r.cfg.Now()
	for _, st := range r.states {
		cp := st.cp.Load()
		if cp >= head {
			st.lagN.Store(0)
			st.lagS.Store(math.Float64bits(0))
			continue
		}
		st.lagN.Store(head - cp)
		next, err := r.log.ReadAll(ctx, eventstore.Forwards, cp+1, 1)
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
)

// Register adds the runner's metrics to reg: per projection, its lag in
// events and seconds, its checkpoint, and its applied and poisoned
// counts.
func (r *Runner) Register(reg prometheus.Registerer) error {
	return reg.Register(collector{r})
}

type collector struct{ r *Runner }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLagEvents, descLagSeconds, descCheckpoint, descApplied, descPoisoned, descRedeliver} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.r.states {
		name := st.p.Name()
		ch <- prometheus.MustNewConstMetric(descLagEvents, prometheus.GaugeValue, float64(st.lagN.Load()), name)
		ch <- prometheus.MustNewConstMetric(descLagSeconds, prometheus.GaugeValue, math.Float64frombits(st.lagS.Load()), name)
		ch <- prometheus.MustNewConstMetric(descCheckpoint, prometheus.GaugeValue, float64(st.cp.Load()), name)
		ch <- prometheus.MustNewConstMetric(descApplied, prometheus.CounterValue, float64(st.applied.Load()), name)
		ch <- prometheus.MustNewConstMetric(descPoisoned, prometheus.CounterValue, float64(st.poisoned.Load()), name)
	}
	c.r.mu.Lock()
	sub := c.r.sub
	c.r.mu.Unlock()
	var n uint64
	if sub != nil {
		n = sub.Redelivered()
	}
	ch <- prometheus.MustNewConstMetric(descRedeliver, prometheus.CounterValue, float64(n))
}
