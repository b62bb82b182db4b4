package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestNodesSpreadViewers(t *testing.T) {
	c := config{url: "http://a,http://b,http://c"}
	var got []string
	for i := range 4 {
		got = append(got, c.node(i))
	}
	if want := []string{"http://a", "http://b", "http://c", "http://a"}; !slices.Equal(got, want) {
		t.Fatalf("nodes of viewers 0..3: %v, want %v", got, want)
	}
}

func TestCatchUpFrame(t *testing.T) {
	for _, c := range []struct {
		msg      string
		ids      []int64
		caughtUp bool
		fails    bool
	}{
		{`["1","1","videos:1","phx_reply",{"status":"ok","response":{"annotations":[{"id":4},{"id":5}]}}]`, []int64{4, 5}, false, false},
		{`["1","1","videos:1","phx_reply",{"status":"error","response":{"reason":"history_rewound"}}]`, nil, false, true},
		{`["1",null,"videos:1","new_annotation",{"id":6,"body":"t=1"}]`, []int64{6}, false, false},
		{`["1",null,"videos:1","caught_up",{"last_id":6}]`, nil, true, false},
		{`["1",null,"videos:1","presence_diff",{"joins":{},"leaves":{}}]`, nil, false, false},
		// The head of a compressed presence frame, all that is inflated of it.
		{`[null,null,"videos:1","presence_state",{"1":{"metas":[{"phx_ref":"r"`, nil, false, false},
		{`{"event":"caught_up"}`, nil, false, false},
	} {
		ids, caughtUp, err := catchUpFrame([]byte(c.msg))
		if !slices.Equal(ids, c.ids) || caughtUp != c.caughtUp || (err != nil) != c.fails {
			t.Errorf("%s: ids %v, caught up %v, err %v", c.msg, ids, caughtUp, err)
		}
	}
}

// A post the killed node wrote but never answered counts as posted once a
// viewer received it: every viewer must have it then.
func TestUnansweredPostsCount(t *testing.T) {
	viewers := []*viewer{{ids: []int64{1, 2, 3}}, {ids: []int64{1, 3}}}
	if got := unanswered([]int64{1, 3}, viewers); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("posted: %v, want [1 2 3]", got)
	}
}

// A viewer of the killed node rejoins with what it had, catches up, and
// reads on live; its socket inflates a compressed presence frame only as
// far as its head (this one is corrupt past it), before caught_up as after.
func TestMoveRejoinsAndCatchesUp(t *testing.T) {
	pong := make(chan struct{})
	var handlers sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		ws, err := (&websocket.Upgrader{EnableCompression: true}).Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		defer ws.Close()
		if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != joinFrameSeen("videos:1", 4, 4) {
			t.Errorf("join %s %v", msg, err)
			return
		}
		ws.SetPongHandler(func(string) error { close(pong); return nil })
		var b []byte
		b = append(b, serverFrame(opText, []byte(`["1","1","videos:1","phx_reply",{"status":"ok","response":{"annotations":[{"id":5},{"id":6}]}}]`))...)
		b = append(b, compressedFrame(t, presenceState(2000), 1000)...)
		b = append(b, compressedFrame(t, annotation(7, 5, 3000), 0)...)
		b = append(b, serverFrame(opText, []byte(`["1",null,"videos:1","caught_up",{"last_id":7}]`))...)
		b = append(b, compressedFrame(t, presenceState(1000), 1000)...)
		b = append(b, serverFrame(opText, annotation(8, 5, 0))...)
		b = append(b, serverFrame(opPing, []byte("hi"))...)
		if _, err := ws.NetConn().Write(b); err != nil {
			t.Errorf("write: %v", err)
			return
		}
		for { // the pong, until the client closes
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer func() { srv.Close(); handlers.Wait() }()

	k := &killer{tokens: []string{"tok"}, topic: "videos:1", killedAt: time.Now()}
	v := &viewer{ids: []int64{4}, readErr: errors.New("the killed node's socket")}
	moved := make(chan struct{})
	k.wg.Go(func() { defer close(moved); k.move(t.Context(), 0, v, srv.URL) })
	select {
	case <-pong:
	case <-moved: // failed: reported below
	}
	k.mu.Lock()
	for _, m := range k.socks {
		m.close()
	}
	k.mu.Unlock()
	k.wg.Wait()
	if len(k.failed) > 0 || len(k.moved) != 1 {
		t.Fatalf("failed %v, moved %v", k.failed, k.moved)
	}
	live := int64(len(compressedFrame(t, presenceState(1000), 1000)))
	if !slices.Equal(v.ids, []int64{4, 5, 6, 7, 8}) || v.readErr != nil || v.presence.frames != 1 || v.presence.wire != live {
		t.Fatalf("ids %v, read error %v, presence %+v; want 4..8, none, the live frame of %d bytes", v.ids, v.readErr, v.presence, live)
	}
}
