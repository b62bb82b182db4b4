package system

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// rangeFrame reads ws until a frame matches, failing after a generous
// deadline.
func rangeFrame(t *testing.T, ws *websocket.Conn, what string, match func(frame) bool) frame {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_ = ws.SetReadDeadline(deadline)
		var f frame
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(f) {
			return f
		}
	}
}

// TestRangeSurvivesSIGKILL: a range posted and acknowledged, then the
// server SIGKILLed, is in the join reply after the restart with its
// duration; one posted after the restart reaches a viewer that rejoins
// with last_seen_id as a push with its duration.
func TestRangeSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the server binary")
	}
	srv := startServer(t)
	u := srv.signUp(t, "ranger", "127.0.0.2")
	vid := srv.addVideo(t, u, "ranges")
	topic := "videos:" + strconv.FormatInt(vid, 10)

	join := func(params map[string]any) (*websocket.Conn, []json.RawMessage) {
		t.Helper()
		ws, err := dial(srv, u.Token)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		if err := send(ws, "1", "1", topic, "phx_join", params); err != nil {
			t.Fatal(err)
		}
		f := rangeFrame(t, ws, "the join reply", func(f frame) bool { return f.Event == "phx_reply" && f.ref() == "1" })
		st, resp, reason := f.reply()
		var r struct {
			Annotations []json.RawMessage `json:"annotations"`
		}
		if st != "ok" || json.Unmarshal(resp, &r) != nil {
			t.Fatalf("join: %s %s", st, reason)
		}
		return ws, r.Annotations
	}
	ws, _ := join(map[string]any{})
	if err := send(ws, "1", "2", topic, "new_annotation", map[string]any{"body": "the chorus", "at": 6000, "duration": 4500}); err != nil {
		t.Fatal(err)
	}
	posted := rangeFrame(t, ws, "the post's reply", func(f frame) bool { return f.Event == "phx_reply" && f.ref() == "2" })
	if st, _, reason := posted.reply(); st != "ok" {
		t.Fatalf("post a range: %s %s", st, reason)
	}
	srv.kill()
	srv.start()

	ws, anns := join(map[string]any{})
	var a struct {
		ID       int64 `json:"id"`
		At       int64 `json:"at"`
		Duration int64 `json:"duration"`
	}
	if len(anns) != 1 || json.Unmarshal(anns[0], &a) != nil || a.At != 6000 || a.Duration != 4500 {
		t.Fatalf("after SIGKILL the join reply has %s", anns)
	}
	viewer, _ := join(map[string]any{"last_seen_id": a.ID})
	if err := send(ws, "1", "2", topic, "new_annotation", map[string]any{"body": "the bridge", "at": 20000, "duration": 1}); err != nil {
		t.Fatal(err)
	}
	push := rangeFrame(t, viewer, "the push", func(f frame) bool { return f.Event == "new_annotation" })
	var p struct {
		Body     string `json:"body"`
		Duration int64  `json:"duration"`
	}
	if json.Unmarshal(push.Payload, &p) != nil || p.Body != "the bridge" || p.Duration != 1 {
		t.Fatalf("push %s", push.Payload)
	}
}
