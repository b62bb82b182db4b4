// Package metrics exposes Videologue's operational numbers to Prometheus:
// append latency and appended events (an instrumenting decorator of
// eventstore.Store); the socket's connections, joins, pushes, refusals,
// catch-up pages, broadcasts and slow-client disconnects (a
// channels.Observer); HTTP requests by route (a web.RequestObserver); and
// any gauge the wiring adds, such as projection lag. Everything registers
// with the registry it is given; no global registry is touched.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/videologue/videologue/eventstore"
)

const namespace = "videologue"

// Metrics holds the collectors. Its methods are safe for concurrent use.
type Metrics struct {
	reg        prometheus.Registerer
	appendTime *prometheus.HistogramVec
	appended   *prometheus.CounterVec
	broadcasts prometheus.Counter
	deliveries prometheus.Counter
	queueDrops prometheus.Counter
	socket     *socket
	requests   *requests
}

// New registers the collectors with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reg: reg,
		appendTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "append_duration_seconds",
			Help:    "Time from Append to the events being durable (or failing), by result.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5},
		}, []string{"result"}),
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_appended_total",
			Help: "Events durably appended to the log, by type (viewer_joined.v1 counts joins, annotation_posted.v1 posts).",
		}, []string{"type"}),
		broadcasts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "broadcasts_total",
			Help: "Annotation events broadcast to a video's viewers.",
		}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "broadcast_deliveries_total",
			Help: "Frames enqueued to sockets by broadcasts (one per viewer per event).",
		}),
		queueDrops: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "slow_client_disconnects_total",
			Help: "Sockets disconnected because their outgoing queue was full.",
		}),
		socket:   newSocket(),
		requests: newRequests(),
	}
	reg.MustRegister(m.appendTime, m.appended, m.broadcasts, m.deliveries, m.queueDrops, m.requests.count, m.requests.duration)
	reg.MustRegister(m.socket.collectors...)
	return m
}

// Gauge registers a gauge whose value is read from f at each scrape:
// open connections, projection lag.
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, f))
}

// Broadcast records one event sent to n viewers.
func (m *Metrics) Broadcast(n int) {
	m.broadcasts.Inc()
	m.deliveries.Add(float64(n))
}

// QueueDropped records a slow client disconnected.
func (m *Metrics) QueueDropped() { m.queueDrops.Inc() }

// Handler serves g in the Prometheus text format.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// Store wraps s so that every Append is timed and counted.
func (m *Metrics) Store(s eventstore.Store) eventstore.Store { return &store{Store: s, m: m} }

// store is an eventstore.Store that measures appends; every other method
// is the wrapped store's.
type store struct {
	eventstore.Store
	m *Metrics
}

var _ eventstore.Store = (*store)(nil)

func (s *store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	start := time.Now()
	res, err := s.Store.Append(ctx, stream, expected, events...)
	result := "ok"
	if err != nil {
		result = "error"
	}
	s.m.appendTime.WithLabelValues(result).Observe(time.Since(start).Seconds())
	if err == nil {
		for _, e := range events {
			s.m.appended.WithLabelValues(e.Type).Inc()
		}
	}
	return res, err
}
