package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

type seenRequest struct {
	method, route string
	status        int
}

type requestLog struct {
	mu   sync.Mutex
	seen []seenRequest
}

func (l *requestLog) Request(method, route string, status int, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, seenRequest{method, route, status})
}

// Requests are reported by the route pattern they matched, never by their
// path, with the status the handler wrote.
func TestRequestsObservedByRoute(t *testing.T) {
	log := &requestLog{}
	srv := httptest.NewServer(New(Config{}, Deps{Requests: log, Ready: func() error { return nil }}, nil))
	t.Cleanup(srv.Close)
	tests := []struct {
		method, path string
		want         seenRequest
	}{
		{"GET", "/healthz", seenRequest{"GET", "/healthz", 200}},
		{"GET", "/api/videos/not-a-number", seenRequest{"GET", "/api/videos/{id}", 0}},
		{"GET", "/api/videos/12345678", seenRequest{"GET", "/api/videos/{id}", 0}},
		{"GET", "/no/such/page/at/all", seenRequest{"GET", "", 404}},
		{"DELETE", "/healthz", seenRequest{"DELETE", "", 405}},
	}
	for i, tc := range tests {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got := log.wait(t, i)
		want := tc.want
		if want.status == 0 {
			want.status = resp.StatusCode
		}
		if got != want || got.status != resp.StatusCode {
			t.Errorf("%s %s (%d): observed %+v, want %+v", tc.method, tc.path, resp.StatusCode, got, want)
		}
	}
}

// wait returns the i-th request observed, once it is.
func (l *requestLog) wait(t *testing.T, i int) seenRequest {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		if len(l.seen) > i {
			defer l.mu.Unlock()
			return l.seen[i]
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("request %d never observed", i)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
