package web_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/videologue/videologue/web"
)

// /healthz says the process is alive; /readyz follows Deps.Ready, so that
// a load balancer stops sending traffic once shutdown begins; /metrics is
// the handler it is given.
func TestHealthReadyMetrics(t *testing.T) {
	var shuttingDown atomic.Bool
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "videologue_up 1\n") })
	srv := httptest.NewServer(web.New(web.Config{}, web.Deps{Ready: func() error {
		if shuttingDown.Load() {
			return errors.New("shutting down")
		}
		return nil
	}, Metrics: metrics}, nil))
	t.Cleanup(srv.Close)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{{"/healthz", 200, "ok"}, {"/readyz", 200, "ready"}, {"/metrics", 200, "videologue_up 1"}} {
		if code, body := get(tc.path); code != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q", tc.path, code, body)
		}
	}
	shuttingDown.Store(true)
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz while shutting down: %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz while shutting down: %d", code)
	}
}
