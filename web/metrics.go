package web

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// RequestObserver is told of every HTTP request served, for metrics.
// route is the router's pattern that matched ("/videos/{id}"), never the
// path, so that what is labelled by it stays bounded; "" when no route
// matched.
type RequestObserver interface {
	Request(method, route string, status int, d time.Duration)
}

// observeRequests tells deps.Requests of each request once it is served.
// The websocket is left out: its upgrade hijacks the connection, and the
// socket has metrics of its own.
func (s *Server) observeRequests(next http.Handler) http.Handler {
	obs := s.deps.Requests
	if obs == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/socket/websocket" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := ""
		if rc := chi.RouteContext(r.Context()); rc != nil {
			route = rc.RoutePattern()
		}
		obs.Request(r.Method, route, rec.status, time.Since(start))
	})
}
