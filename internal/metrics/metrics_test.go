package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/internal/metrics"
)

// The decorator times and counts appends on a real store, and the handler
// exposes them with the gauges and channel counters.
func TestStoreAndHandler(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	s := m.Store(st)
	if _, err := s.Append(t.Context(), "video-1", eventstore.Any, eventstore.EventData{Type: "annotation_posted.v1", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(t.Context(), "video-1", eventstore.Exact(99), eventstore.EventData{Type: "annotation_posted.v1", Data: []byte(`{}`)}); err == nil {
		t.Fatal("wrong expectation accepted")
	}
	m.Broadcast(3)
	m.QueueDropped()
	m.Gauge("connections", "Open sockets.", func() float64 { return 7 })

	rec := httptest.NewRecorder()
	metrics.Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`videologue_events_appended_total{type="annotation_posted.v1"} 1`,
		`videologue_append_duration_seconds_count{result="ok"} 1`,
		`videologue_append_duration_seconds_count{result="error"} 1`,
		`videologue_broadcasts_total 1`,
		`videologue_broadcast_deliveries_total 3`,
		`videologue_slow_client_disconnects_total 1`,
		`videologue_connections 7`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
