package main

import (
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// debugServer serves Go's profiler on a listener of its own, apart from
// the site, so that it is never exposed where the site is.
type debugServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

func startDebug(addr string) (*debugServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	d := &debugServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		_ = d.srv.Serve(ln)
	}()
	return d, nil
}

// Addr is where the profiler listens.
func (d *debugServer) Addr() string { return d.ln.Addr().String() }

// Close stops it at once: a profile being taken is cut short.
func (d *debugServer) Close() {
	_ = d.srv.Close()
	<-d.done
}
