package channels

import (
	"context"
	"sync"
)

// hubs is the registry of this process's hubs: at most one per video,
// created by the first join, retired when its last subscription has been gone
// for Config.HubLinger, and all stopped (and waited for) by close.
type hubs struct {
	srv    *Server
	mu     sync.Mutex
	m      map[int64]*hub
	closed bool
	wg     sync.WaitGroup
}

func newHubs(s *Server) *hubs { return &hubs{srv: s, m: make(map[int64]*hub)} }

// acquire returns the running hub of videoID, starting it if needed, and
// counts a reference that release gives back. ctx is only a source of
// values: the hub runs until retired or closed.
func (r *hubs) acquire(ctx context.Context, videoID int64) (*hub, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errUnavailable
	}
	h := r.m[videoID]
	if h == nil {
		hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		h = newHub(r.srv, videoID, cancel)
		r.m[videoID] = h
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			h.run(hctx)
		}()
	}
	h.refs++
	return h, nil
}

// release gives back a reference; the last one starts the hub's linger.
func (r *hubs) release(h *hub) {
	r.mu.Lock()
	h.refs--
	idle := h.refs == 0
	r.mu.Unlock()
	if idle {
		select {
		case h.idle <- struct{}{}:
		default:
		}
	}
}

// retire removes h from the registry if nobody holds it, or regardless
// with force (the hub failed); it reports whether h was removed.
func (r *hubs) retire(h *hub, force bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h.refs > 0 && !force {
		return false
	}
	if r.m[h.videoID] == h {
		delete(r.m, h.videoID)
	}
	return true
}

// close stops every hub and waits for their goroutines.
func (r *hubs) close() {
	r.mu.Lock()
	r.closed = true
	all := make([]*hub, 0, len(r.m))
	for _, h := range r.m {
		all = append(all, h)
	}
	r.mu.Unlock()
	for _, h := range all {
		h.cancel()
	}
	r.wg.Wait()
}

// loaded is the number of running hubs.
func (r *hubs) loaded() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}
