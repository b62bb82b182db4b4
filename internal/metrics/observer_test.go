package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/internal/metrics"
)

func scrape(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	metrics.Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

// Every label value is one of a few: out-of-range constants and made-up
// methods fall into no new series.
func TestLabelsStayBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	before := strings.Count(scrape(t, reg), "\n")
	m.Connect(channels.NumTransports, channels.OK)
	m.Connect(channels.LongPoll, channels.NumOutcomes+3)
	m.Join(channels.NumOutcomes)
	m.Push(channels.NumPushEvents+1, channels.OK)
	m.Disconnected(channels.NumTransports)
	if after := strings.Count(scrape(t, reg), "\n"); after != before {
		t.Errorf("out-of-range values changed the exposition: %d lines, then %d", before, after)
	}
	m.Request("BREW", "/videos/{id}", 418, time.Millisecond)
	m.Request("GET", "", 404, time.Millisecond)
	body := scrape(t, reg)
	for _, want := range []string{
		`videologue_http_requests_total{code="418",method="OTHER",route="/videos/{id}"} 1`,
		`videologue_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`videologue_http_request_duration_seconds_count{method="OTHER",route="/videos/{id}"} 1`,
		`videologue_socket_connections{transport="longpoll"} 0`,
		`videologue_socket_pushes_total{event="other",result="other"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `reason="ok"`) {
		t.Error("refusals have an ok series")
	}
}

// The socket's observations are atomic adds: no allocation, no lock.
func BenchmarkObserver(b *testing.B) {
	m := metrics.New(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Push(channels.PushNewAnnotation, channels.OK)
			m.Broadcast(100)
		}
	})
}

func TestObserverDoesNotAllocate(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	allocs := testing.AllocsPerRun(100, func() {
		m.Connect(channels.WebSocket, channels.OK)
		m.Join(channels.RefusedRateLimit)
		m.Push(channels.PushEditAnnotation, channels.RefusedForbidden)
		m.CatchUpPage(10, 1000)
		m.Disconnected(channels.WebSocket)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per observation", allocs)
	}
}
