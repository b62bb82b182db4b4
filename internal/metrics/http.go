package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// requests holds the HTTP collectors. Their labels are bounded: the route
// is the router's pattern, never the path; the method one of the
// standard ones; the code one the handlers chose.
type requests struct {
	count    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newRequests() *requests {
	return &requests{
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by method and route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
	}
}

// Request records one HTTP request: route is the pattern that matched
// ("/videos/{id}"), or "" when none did.
func (m *Metrics) Request(method, route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	method = methodLabel(method)
	m.requests.count.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.requests.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// methodLabel keeps a client's made-up method out of the labels.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}
