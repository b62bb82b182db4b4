package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// presenceWatch follows a video's presence list as the official client
// does, from presence_state and presence_diff, on one socket of its own,
// and records when the number of connections listed changes.
type presenceWatch struct {
	ws   *websocket.Conn
	done chan struct{}

	mu      sync.Mutex
	refs    map[string]bool // phx_ref of each connection listed
	history []presenceAt
	err     error
}

type presenceAt struct {
	at time.Time
	n  int
}

// watchPresence joins topic on base with token and follows its presence
// list until close.
func watchPresence(ctx context.Context, base, token, topic string) (*presenceWatch, error) {
	u, err := socketURL(base, token)
	if err != nil {
		return nil, err
	}
	ws, _, err := deflateDialer.DialContext(ctx, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("presence watch: %w", err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(joinFrame(topic))); err != nil {
		ws.Close()
		return nil, fmt.Errorf("presence watch: %w", err)
	}
	w := &presenceWatch{ws: ws, done: make(chan struct{}), refs: map[string]bool{}}
	go w.read()
	go w.heartbeat()
	return w, nil
}

func (w *presenceWatch) heartbeat() {
	t := time.NewTicker(20 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
			w.mu.Lock() // gorilla allows one writer at a time; read does not write
			_ = w.ws.WriteMessage(websocket.TextMessage, []byte(`[null,"hb","phoenix","heartbeat",{}]`))
			w.mu.Unlock()
		}
	}
}

type presenceMetas map[string]struct {
	Metas []struct {
		PhxRef string `json:"phx_ref"`
	} `json:"metas"`
}

func (w *presenceWatch) read() {
	defer close(w.done)
	for {
		_, msg, err := w.ws.ReadMessage()
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		var f [5]json.RawMessage
		if json.Unmarshal(msg, &f) != nil {
			continue
		}
		var state presenceMetas
		var diff struct {
			Joins  presenceMetas `json:"joins"`
			Leaves presenceMetas `json:"leaves"`
		}
		switch string(f[3]) {
		case `"presence_state"`:
			if json.Unmarshal(f[4], &state) != nil {
				continue
			}
			w.mu.Lock()
			clear(w.refs)
			w.apply(state, true)
		case `"presence_diff"`:
			if json.Unmarshal(f[4], &diff) != nil {
				continue
			}
			w.mu.Lock()
			w.apply(diff.Joins, true)
			w.apply(diff.Leaves, false)
		default:
			continue
		}
		w.history = append(w.history, presenceAt{time.Now(), len(w.refs)})
		w.mu.Unlock()
	}
}

// apply adds or removes m's connections; w.mu is held.
func (w *presenceWatch) apply(m presenceMetas, add bool) {
	for _, l := range m {
		for _, meta := range l.Metas {
			if add {
				w.refs[meta.PhxRef] = true
			} else {
				delete(w.refs, meta.PhxRef)
			}
		}
	}
}

// count is the number of connections listed now.
func (w *presenceWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.refs)
}

// awaitDrop waits until deadline for the list to hold more than n
// connections after since (the dead node's still listed, or its viewers
// listed again on live nodes), and then at most n: it returns when it
// first did, or false if it never did.
func (w *presenceWatch) awaitDrop(n int, since, deadline time.Time) (time.Time, bool) {
	for {
		w.mu.Lock()
		above := false
		for _, h := range w.history {
			switch {
			case !h.at.After(since):
			case h.n > n:
				above = true
			case above:
				w.mu.Unlock()
				return h.at, true
			}
		}
		failed := w.err != nil
		w.mu.Unlock()
		if failed || time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *presenceWatch) close() {
	w.ws.Close()
	<-w.done
}
