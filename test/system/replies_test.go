package system

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/gorilla/websocket"
)

// TestRepliesSurviveSIGKILL: replies acknowledged, one edited, then the
// server SIGKILLed: after the restart a fresh join carries them in
// "replies", never in "annotations"; a viewer that rejoins with
// last_seen_id and last_seen_rev gets a reply posted after the restart
// as new_reply, and its edit as reply_updated.
func TestRepliesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the server binary")
	}
	srv := startServer(t)
	u := srv.signUp(t, "replier", "127.0.0.3")
	vid := srv.addVideo(t, u, "replies")
	topic := "videos:" + strconv.FormatInt(vid, 10)

	type joinReply struct {
		Annotations []struct {
			ID int64 `json:"id"`
		} `json:"annotations"`
		Replies []struct {
			ID       int64  `json:"id"`
			ParentID int64  `json:"parent_id"`
			Body     string `json:"body"`
		} `json:"replies"`
		Rev int64 `json:"rev"`
	}
	join := func(params map[string]any) (*websocket.Conn, joinReply) {
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
		var r joinReply
		if st != "ok" || json.Unmarshal(resp, &r) != nil {
			t.Fatalf("join: %s %s", st, reason)
		}
		return ws, r
	}
	ref := 1
	push := func(ws *websocket.Conn, event string, payload map[string]any) int64 {
		t.Helper()
		ref++
		r := strconv.Itoa(ref)
		if err := send(ws, "1", r, topic, event, payload); err != nil {
			t.Fatal(err)
		}
		f := rangeFrame(t, ws, event+"'s reply", func(f frame) bool { return f.Event == "phx_reply" && f.ref() == r })
		st, resp, reason := f.reply()
		if st != "ok" {
			t.Fatalf("%s: %s %s", event, st, reason)
		}
		var ok struct{ ID int64 }
		_ = json.Unmarshal(resp, &ok)
		return ok.ID
	}
	ws, _ := join(map[string]any{})
	note := push(ws, "new_annotation", map[string]any{"body": "the note", "at": 1000})
	first := push(ws, "new_reply", map[string]any{"parent_id": note, "body": "first"})
	push(ws, "new_reply", map[string]any{"parent_id": note, "body": "second"})
	push(ws, "edit_reply", map[string]any{"id": first, "body": "first, edited"})
	srv.kill()
	srv.start()

	ws, r := join(map[string]any{})
	if len(r.Annotations) != 1 || r.Annotations[0].ID != note || len(r.Replies) != 2 ||
		r.Replies[0].ID != first || r.Replies[0].Body != "first, edited" || r.Replies[1].Body != "second" || r.Replies[1].ParentID != note {
		t.Fatalf("after SIGKILL the join reply has %+v", r)
	}
	viewer, vr := join(map[string]any{"last_seen_id": r.Replies[1].ID, "last_seen_rev": r.Rev})
	if len(vr.Annotations) != 0 || len(vr.Replies) != 0 {
		t.Fatalf("a rejoin with nothing missed brought %+v", vr)
	}
	third := push(ws, "new_reply", map[string]any{"parent_id": note, "body": "third"})
	push(ws, "edit_reply", map[string]any{"id": third, "body": "third, edited"})
	for _, want := range []struct{ event, body string }{{"new_reply", "third"}, {"reply_updated", "third, edited"}} {
		f := rangeFrame(t, viewer, want.event, func(f frame) bool { return f.Event == want.event })
		var p struct {
			ID       int64  `json:"id"`
			ParentID int64  `json:"parent_id"`
			Body     string `json:"body"`
		}
		if json.Unmarshal(f.Payload, &p) != nil || p.ID != third || p.ParentID != note || p.Body != want.body {
			t.Fatalf("%s push %s", want.event, f.Payload)
		}
	}
}
