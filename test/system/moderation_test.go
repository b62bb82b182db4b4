package system

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestModerationSurvivesSIGKILL: a hide and a reaction acknowledged, then
// the server SIGKILLed, are in the join replies after the restart: the
// hidden note is left out for a viewer and marked for its author, the
// counts are there, and a viewer that rejoins with what it had before
// gets the hidden note's id alone and the reacted note with its counts.
func TestModerationSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the server binary")
	}
	srv := startServer(t)
	author := srv.signUp(t, "author", "127.0.0.2")
	viewer := srv.signUp(t, "viewer", "127.0.0.3")
	mod := srv.signUp(t, "mod", "127.0.0.4")
	if r := runCLI(t, "users", "grant", "mod", "moderator", "--data", srv.data); r.Code != 0 {
		t.Fatalf("grant moderator: %+v", r)
	}
	vid := srv.addVideo(t, author, "moderated")
	topic := "videos:" + strconv.FormatInt(vid, 10)

	join := func(u user, params map[string]any) (*websocket.Conn, json.RawMessage) {
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
		if st != "ok" {
			t.Fatalf("join: %s %s", st, reason)
		}
		return ws, resp
	}
	ref := 1
	request := func(ws *websocket.Conn, event string, payload map[string]any) json.RawMessage {
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
		return resp
	}
	id := func(resp json.RawMessage) int64 {
		var r struct {
			ID int64 `json:"id"`
		}
		_ = json.Unmarshal(resp, &r)
		return r.ID
	}
	aws, _ := join(author, map[string]any{})
	rude := id(request(aws, "new_annotation", map[string]any{"body": "a rude note", "at": 1000}))
	fine := id(request(aws, "new_annotation", map[string]any{"body": "a fine note", "at": 2000}))
	vws, _ := join(viewer, map[string]any{})
	request(vws, "react", map[string]any{"id": fine, "reaction": "heart", "on": true})
	mws, _ := join(mod, map[string]any{})
	request(mws, "hide_annotation", map[string]any{"id": rude, "reason": "rude"})
	srv.kill()
	srv.start()

	type ann struct {
		ID        int64          `json:"id"`
		Hidden    bool           `json:"hidden"`
		Reactions map[string]int `json:"reactions"`
	}
	var r struct {
		Annotations []ann   `json:"annotations"`
		Updated     []ann   `json:"updated"`
		Hidden      []int64 `json:"hidden"`
	}
	_, resp := join(viewer, map[string]any{})
	if json.Unmarshal(resp, &r) != nil || len(r.Annotations) != 1 || r.Annotations[0].ID != fine || r.Annotations[0].Reactions["heart"] != 1 || strings.Contains(string(resp), "rude note") {
		t.Fatalf("a viewer's join after SIGKILL: %s", resp)
	}
	_, resp = join(author, map[string]any{})
	r.Annotations = nil
	if json.Unmarshal(resp, &r) != nil || len(r.Annotations) != 2 || r.Annotations[0].ID != rude || !r.Annotations[0].Hidden {
		t.Fatalf("the author's join after SIGKILL: %s", resp)
	}
	r.Annotations = nil
	_, resp = join(viewer, map[string]any{"last_seen_id": fine, "last_seen_rev": fine})
	if json.Unmarshal(resp, &r) != nil || len(r.Annotations) != 0 || len(r.Hidden) != 1 || r.Hidden[0] != rude ||
		len(r.Updated) != 1 || r.Updated[0].ID != fine || r.Updated[0].Reactions["heart"] != 1 || strings.Contains(string(resp), "rude note") {
		t.Fatalf("a viewer's rejoin after SIGKILL: %s", resp)
	}
}
