package channels_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/eventstore"
)

// poller speaks the long-poll transport by hand.
type poller struct {
	t       testing.TB
	e       *env
	user    string // the user token
	session string
}

type pollReply struct {
	Status   int      `json:"status"`
	Token    string   `json:"token"`
	Messages []string `json:"messages"`
	code     int
	body     string
}

func (p *poller) do(method, body, contentType string, header http.Header) pollReply {
	p.t.Helper()
	q := url.Values{"vsn": {"2.0.0"}}
	if p.user != "" {
		q.Add("token", p.user)
	}
	if p.session != "" {
		q.Add("token", p.session)
	}
	req, err := http.NewRequestWithContext(p.t.Context(), method, "http://"+p.e.addr+"/socket/longpoll?"+q.Encode(), strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := pollReply{code: resp.StatusCode, body: string(b)}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &r); err != nil {
			p.t.Fatalf("%s: %q: %v", method, b, err)
		}
	}
	return r
}

func openedSession(t testing.TB, e *env, userToken string) string {
	p := &poller{t: t, e: e, user: userToken}
	p.open()
	return p.session
}

func (p *poller) open() {
	p.t.Helper()
	r := p.do(http.MethodGet, "", "", nil)
	if r.code != http.StatusOK || r.Status != 410 || !strings.HasPrefix(r.Token, "lp.") {
		p.t.Fatalf("opening a session: %d %s", r.code, r.body)
	}
	p.session = r.Token
}

// until polls until it has a frame that match accepts.
func (p *poller) until(what string, match func(frame) bool) frame {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		r := p.do(http.MethodGet, "", "", nil)
		if r.code != http.StatusOK || (r.Status != 200 && r.Status != 204) {
			p.t.Fatalf("waiting for %s: %d %s", what, r.code, r.body)
		}
		for _, m := range r.Messages {
			var raw []json.RawMessage
			if err := json.Unmarshal([]byte(m), &raw); err != nil || len(raw) != 5 {
				p.t.Fatalf("message %q is not a frame", m)
			}
			var f frame
			_ = json.Unmarshal(raw[2], &f.Topic)
			_ = json.Unmarshal(raw[3], &f.Event)
			f.Payload = raw[4]
			_ = json.Unmarshal(raw[0], &f.JoinRef)
			_ = json.Unmarshal(raw[1], &f.Ref)
			if match(f) {
				return f
			}
		}
	}
	p.t.Fatalf("timed out waiting for %s", what)
	return frame{}
}

func TestLongPollProtocol(t *testing.T) {
	cfg := permissive()
	cfg.PollTimeout = 300 * time.Millisecond // a poll with nothing queued answers 204 soon
	e := newEnv(t, cfg)
	uid, _, tok := e.user("lp")
	_, _, otherTok := e.user("other")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	e.post(vid, uid, "lp", "first")

	// A websocket viewer of another user watches presence.
	ws := e.dial(otherTok)
	ws.mustJoin(topic, map[string]any{"last_seen_id": 1})

	p := &poller{t: t, e: e, user: tok}
	p.open()
	if r := p.do(http.MethodGet, "", "", nil); r.Status != 204 || r.Token != p.session {
		t.Fatalf("an empty poll: %d %s, want status 204 with the token", r.code, r.body)
	}
	// A batch of two frames, as phoenix.js sends them.
	batch := `["1","1","` + topic + `","phx_join",{}]` + "\n" + `[null,"2","phoenix","heartbeat",{}]`
	if r := p.do(http.MethodPost, batch, "application/x-ndjson", nil); r.Status != 200 {
		t.Fatalf("POST: %d %s", r.code, r.body)
	}
	join := p.until("the join reply", func(f frame) bool { return f.Event == "phx_reply" && f.ref() == "1" })
	if status, _ := join.reply(); status != "ok" {
		t.Fatalf("join: %s", join.Payload)
	}
	ws.await(0, 10*time.Second, "the long-poll viewer in presence", func(f frame) bool {
		var d struct{ Joins map[string]any }
		return f.Event == "presence_diff" && json.Unmarshal(f.Payload, &d) == nil && d.Joins[key(uid)] != nil
	})
	// One frame as the whole body, as older clients send it; the token in
	// the header.
	hp := &poller{t: t, e: e, user: tok}
	hdr := http.Header{"X-Phoenix-Longpoll-Token": {p.session}}
	if r := hp.do(http.MethodPost, `["1","3","`+topic+`","new_annotation",{"body":"by poll","at":1}]`, "application/json", hdr); r.Status != 200 {
		t.Fatalf("POST one frame: %d %s", r.code, r.body)
	}
	p.until("the broadcast", func(f frame) bool {
		return f.Event == "new_annotation" && strings.Contains(string(f.Payload), "by poll")
	})

	// A session token is bound to its user: with any other user's token
	// it is refused (403). A forged or unknown session token gets 410 and
	// opens nothing.
	if r := (&poller{t: t, e: e, user: otherTok, session: p.session}).do(http.MethodGet, "", "", nil); r.code != http.StatusForbidden {
		t.Fatalf("another user's poll: %d %s, want 403", r.code, r.body)
	}
	forged := p.session[:len(p.session)-2] + "AA"
	if forged == p.session {
		forged = p.session[:len(p.session)-2] + "BB"
	}
	for _, bad := range []string{forged, "lp.nosuchsession.x"} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			if r := (&poller{t: t, e: e, user: tok, session: bad}).do(m, "[]", "", nil); r.Status != 410 || r.Token != "" {
				t.Fatalf("%s with token %q: %d %s, want 410 without a token", m, bad, r.code, r.body)
			}
		}
	}
	// Bad input gets a clear status.
	if r := p.do(http.MethodPost, strings.Repeat("x", 1<<20), "application/x-ndjson", nil); r.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a huge batch: %d, want 413", r.code)
	}
	if r := p.do(http.MethodPut, "", "", nil); r.code != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d, want 405", r.code)
	}
	if r := p.do(http.MethodGet, "", "", http.Header{"Origin": {"http://evil.example"}}); r.code != http.StatusForbidden {
		t.Fatalf("a foreign origin: %d, want 403", r.code)
	}
	if r := (&poller{t: t, e: e, user: "forged"}).do(http.MethodGet, "", "", nil); r.code != http.StatusForbidden {
		t.Fatalf("a forged user token: %d, want 403", r.code)
	}

	// A session nobody polls ends: its viewer leaves presence.
	ws.await(0, 20*time.Second, "the long-poll viewer leaving", func(f frame) bool {
		var d struct{ Leaves map[string]any }
		return f.Event == "presence_diff" && json.Unmarshal(f.Payload, &d) == nil && d.Leaves[key(uid)] != nil
	})
	if r := p.do(http.MethodGet, "", "", nil); r.Status != 410 || r.Token != "" {
		t.Fatalf("a poll of an expired session: %d %s, want 410", r.code, r.body)
	}
	eventually(t, "the expired session closed", 10*time.Second, func() bool { return e.srv.Connections() == 1 })
}

// TestLongPollLimits: a session counts as a socket of its address, and
// opening one as a connect.
func TestLongPollLimits(t *testing.T) {
	cfg := permissive()
	cfg.MaxSocketsPerAddr = 1
	e := newEnv(t, cfg)
	_, _, tok := e.user("lim")
	sess := openedSession(t, e, tok)
	if r := (&poller{t: t, e: e, user: tok}).do(http.MethodGet, "", "", nil); r.code != http.StatusTooManyRequests {
		t.Fatalf("a session past the address's cap of 1: %d %s, want 429", r.code, r.body)
	}
	if _, resp, err := e.tryDial(tok, nil); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a websocket beside the session: %v, want 429", err)
	}

	// A session reads one batch at a time: a second POST, while the first
	// is still being sent, is refused.
	p := &poller{t: t, e: e, user: tok, session: sess}
	pr, pw := io.Pipe()
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+e.addr+"/socket/longpoll?token="+url.QueryEscape(p.session), pr)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	_, _ = pw.Write([]byte(`[null,"1","phoenix","heartbeat",{}]` + "\n"))
	eventually(t, "a second POST refused", 10*time.Second, func() bool {
		return p.do(http.MethodPost, `[null,"2","phoenix","heartbeat",{}]`, "", nil).code == http.StatusTooManyRequests
	})
	pw.Close()
	if code := <-first; code != http.StatusOK {
		t.Fatalf("the first POST: %d", code)
	}

	cfg = permissive()
	cfg.FrameRate, cfg.FrameBurst, cfg.FloodStrikes = 1, 2, 3
	e2 := newEnv(t, cfg)
	_, _, tok2 := e2.user("flood")
	p = &poller{t: t, e: e2, user: tok2}
	p.open()
	hb := strings.Repeat(`[null,"1","phoenix","heartbeat",{}]`+"\n", 10)
	p.do(http.MethodPost, hb, "application/x-ndjson", nil)
	eventually(t, "the flooding session closed", 10*time.Second, func() bool { return e2.srv.Connections() == 0 })
}

// TestLongPollQueueBound: a session that is not polled while frames pile
// up is cut alone when its queue is full, as a websocket that does not
// read is; its next poll gets 410.
func TestLongPollQueueBound(t *testing.T) {
	cfg := permissive()
	cfg.QueueSize = 8
	e := newEnv(t, cfg)
	uid, _, tok := e.user("idle")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	p := &poller{t: t, e: e, user: tok}
	p.open()
	if r := p.do(http.MethodPost, `["1","1","`+topic+`","phx_join",{}]`, "", nil); r.Status != 200 {
		t.Fatalf("join: %d %s", r.code, r.body)
	}
	p.until("the join reply", func(f frame) bool { return f.Event == "phx_reply" && f.ref() == "1" })
	poster := e.dial(tok)
	pj := poster.mustJoin(topic, map[string]any{})
	for i := range 3 * cfg.QueueSize {
		poster.request(pj, topic, "new_annotation", map[string]any{"body": "pile " + itoa(int64(i)), "at": i})
	}
	eventually(t, "the unpolled session cut", 10*time.Second, func() bool { return e.srv.Connections() == 1 })
	var r pollReply
	for r.Status != 410 { // what was queued before the cut may come first
		r = p.do(http.MethodGet, "", "", nil)
		if r.code != http.StatusOK || (r.Status != 200 && r.Status != 410) {
			t.Fatalf("a poll of the cut session: %d %s, want 410", r.code, r.body)
		}
	}
}

// TestLongPollSignOut: a session whose sign-in ends is closed, and its
// poll answers 403, on which phoenix.js stops, where a session merely
// gone gets 410 and a reconnect. A new session with the token is refused.
func TestLongPollSignOut(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("out")
	_, signIn, _ := e.tokens.Verify(tok)
	p := &poller{t: t, e: e, user: tok}
	p.open()
	other := accounts.New(e.store, accounts.Config{Hash: auth.Params{Memory: 64, Time: 1, Threads: 1}}, nil)
	if err := other.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.SignOut(t.Context(), uid, signIn, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := p.do(http.MethodGet, "", "", nil)
		if r.Status == 403 {
			break
		}
		if r.code != http.StatusOK || (r.Status != 200 && r.Status != 204) || time.Now().After(deadline) {
			t.Fatalf("a poll after the sign-out: %d %s, want 403 in the end", r.code, r.body)
		}
	}
	if r := (&poller{t: t, e: e, user: tok}).do(http.MethodGet, "", "", nil); r.code != http.StatusForbidden {
		t.Fatalf("a new session with the ended sign-in's token: %d %s, want 403", r.code, r.body)
	}
	eventually(t, "the session closed", 10*time.Second, func() bool { return e.srv.Connections() == 0 })
}
