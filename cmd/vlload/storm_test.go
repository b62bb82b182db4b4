package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

func TestCheckStorm(t *testing.T) {
	posted := []int64{11, 12, 14, 15}
	for _, tc := range []struct {
		name string
		ids  []int64
		want stormCheck
	}{
		{"exact", []int64{11, 12, 14, 15}, stormCheck{}},
		{"what it had is ignored", []int64{3, 10, 11, 12, 14, 15}, stormCheck{}},
		{"missing", []int64{11, 14, 15}, stormCheck{missing: 1}},
		{"duplicated", []int64{11, 12, 12, 14, 15}, stormCheck{duplicated: 1, disorder: 1}},
		{"out of order", []int64{11, 14, 12, 15}, stormCheck{disorder: 1}},
		{"unexpected", []int64{11, 12, 13, 14, 15}, stormCheck{unexpected: 1}},
		{"nothing", nil, stormCheck{missing: 4}},
	} {
		got := checkStorm(tc.ids, 10, posted)
		if got != tc.want {
			t.Errorf("%s: checkStorm(%v) = %+v, want %+v", tc.name, tc.ids, got, tc.want)
		}
		if got.exact() != (tc.want == stormCheck{}) {
			t.Errorf("%s: exact() = %v", tc.name, got.exact())
		}
	}
}

// A rejoin reads the join reply, the pushes and caught_up, each decoded
// once: the ids in order, the largest rev, caught_up's last id; presence
// and replies to others are passed over.
func TestCatchUpFrom(t *testing.T) {
	var handlers sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		defer ws.Close()
		if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != joinFrameSeen("videos:1", 4, 9) {
			t.Errorf("join %s %v", msg, err)
			return
		}
		for _, msg := range []string{
			`["1","1","videos:1","phx_reply",{"status":"ok","response":{"annotations":[{"id":5},{"id":6}],"rev":11}}]`,
			string(presenceState(3000)),
			`[null,"hb","phoenix","phx_reply",{"status":"ok","response":{"annotations":[{"id":99}]}}]`,
			`["1",null,"videos:1","new_annotation",{"id":7,"body":"t=1","rev":12}]`,
			`["1",null,"videos:1","annotation_updated",{"id":5,"rev":14}]`,
			`["1",null,"videos:1","caught_up",{"last_id":7,"last_rev":13}]`,
		} {
			if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}))
	defer func() { srv.Close(); handlers.Wait() }()
	u, err := socketURL(srv.URL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := dialer.Dial(u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	r := catchUpFrom(ws, "videos:1", joinFrameSeen("videos:1", 4, 9), true)
	if !r.caughtUp || r.readErr != nil || !slices.Equal(r.ids, []int64{5, 6, 7}) || !r.inOrder || r.count != 3 ||
		r.lastID != 7 || r.caughtUpID != 7 || r.lastRev != 14 || r.frames != 6 {
		t.Fatalf("catch-up %+v", r)
	}
}
