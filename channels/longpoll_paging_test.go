package channels_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// frames polls once and returns the frames of the answer.
func (p *poller) frames() []frame {
	p.t.Helper()
	r := p.do(http.MethodGet, "", "", nil)
	if r.code != http.StatusOK || (r.Status != 200 && r.Status != 204) {
		p.t.Fatalf("poll: %d %s", r.code, r.body)
	}
	var out []frame
	for _, m := range r.Messages {
		var raw []json.RawMessage
		if err := json.Unmarshal([]byte(m), &raw); err != nil || len(raw) != 5 {
			p.t.Fatalf("message %q is not a frame", m)
		}
		var f frame
		_ = json.Unmarshal(raw[0], &f.JoinRef)
		_ = json.Unmarshal(raw[1], &f.Ref)
		_ = json.Unmarshal(raw[2], &f.Topic)
		_ = json.Unmarshal(raw[3], &f.Event)
		f.Payload = raw[4]
		out = append(out, f)
	}
	return out
}

// A long-poll session catches up page by page as a websocket does: a
// GET that takes a page drains the connection, so the next page follows,
// and the session ends with exactly the log's annotations, then
// caught_up.
func TestLongPollPagedCatchUp(t *testing.T) {
	cfg := pagedConfig(100)
	cfg.PollTimeout = time.Second
	e := newEnv(t, cfg)
	uid, _, tok := e.user("lp")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	const n = 1200
	e.seed(vid, uid, "lp", n)
	e.edit(vid, uid, 3, "edited before the join")
	e.del(vid, uid, 5)

	p := &poller{t: t, e: e, user: tok}
	p.open()
	if r := p.do(http.MethodPost, `["1","1","`+topic+`","phx_join",{"last_seen_id":0}]`, "application/x-ndjson", nil); r.Status != 200 {
		t.Fatalf("POST join: %d %s", r.code, r.body)
	}
	view := newPagedView()
	var all []frame
	deadline := time.Now().Add(60 * time.Second)
	for !view.caught && time.Now().Before(deadline) {
		fs := p.frames()
		for _, f := range fs {
			if f.Topic == topic {
				all = append(all, f)
			}
		}
		view.apply(fs)
	}
	if !view.caught {
		t.Fatalf("no caught_up after %d frames", len(all))
	}
	if got, _, more := joinResponse(t, all[0]); got > 100 || !more {
		t.Fatalf("join reply: %d annotations, more %v; want at most a page and more", got, more)
	}
	if len(view.bodies) != n-1 || view.bodies[3] != "edited before the join" || view.bodies[5] != "" {
		t.Fatalf("caught up with %d annotations (3: %q, 5 present: %v), want %d, 3 edited, 5 deleted",
			len(view.bodies), view.bodies[3], view.bodies[5] != "", n-1)
	}
	if view.lastID != n {
		t.Fatalf("last id %d, want %d", view.lastID, n)
	}
}
