package channels_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/eventstore"
)

func TestHeartbeat(t *testing.T) {
	e := newEnv(t, channels.Config{})
	_, _, tok := e.user("hb")
	c := e.dial(tok)
	n := c.send("", "5", "phoenix", "heartbeat", map[string]any{})
	f := c.await(n, 5*time.Second, "heartbeat reply", func(f frame) bool { return f.Event == "phx_reply" })
	if f.JoinRef != nil || f.ref() != "5" || f.Topic != "phoenix" || string(f.Payload) != `{"status":"ok","response":{}}` {
		t.Fatalf("heartbeat reply = %+v %s", f, f.Payload)
	}
}

func TestJoinLeaveClose(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("jl")
	topic := "videos:" + itoa(e.video(uid))
	c := e.dial(tok)
	jr, reply := c.mustJoinReply(topic)
	if reply.joinRef() != jr {
		t.Fatalf("join reply join_ref = %q, want %q", reply.joinRef(), jr)
	}
	leave := c.request(jr, topic, "phx_leave", map[string]any{})
	if st, _ := leave.reply(); st != "ok" || leave.joinRef() != jr {
		t.Fatalf("leave reply: %+v %s", leave, leave.Payload)
	}
	closeF := c.await(0, 5*time.Second, "phx_close", func(f frame) bool { return f.Event == "phx_close" })
	if closeF.joinRef() != jr || closeF.ref() != jr || string(closeF.Payload) != "{}" {
		t.Fatalf("phx_close = [%s,%s,...,%s]", closeF.joinRef(), closeF.ref(), closeF.Payload)
	}
	// After leaving, the topic is unknown again.
	f := c.request(jr, topic, "new_annotation", map[string]any{"body": "x", "at": 1})
	if f.reason() != "unmatched topic" || f.JoinRef != nil {
		t.Fatalf("push after leave: %s (join_ref %v)", f.Payload, f.JoinRef)
	}
	// Leaving a topic never joined is fine, as in Phoenix.
	if st, _ := c.request("9", "videos:12345", "phx_leave", map[string]any{}).reply(); st != "ok" {
		t.Fatalf("leave of unjoined topic: %s", st)
	}
}

func (c *client) mustJoinReply(topic string) (string, frame) {
	c.t.Helper()
	jr, f := c.join(topic, map[string]any{})
	if st, _ := f.reply(); st != "ok" {
		c.t.Fatalf("join %s: %s", topic, f.Payload)
	}
	return jr, f
}

func TestUnmatchedTopicAndUnknownVideo(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("um")
	vid := e.video(uid)
	c := e.dial(tok)
	for _, topic := range []string{"rooms:lobby", "videos:abc", "videos:0" + itoa(vid), "videos:-1", "videos:", "phoenix"} {
		_, f := c.join(topic, map[string]any{})
		if st, _ := f.reply(); st != "error" || f.reason() != "unmatched topic" || f.JoinRef != nil {
			t.Errorf("join %q: %s (join_ref %v), want unmatched topic with null join_ref", topic, f.Payload, f.JoinRef)
		}
	}
	_, f := c.join("videos:999999", map[string]any{})
	if f.reason() != "video not found" {
		t.Errorf("join unknown video: %s", f.Payload)
	}
	f = c.request("", "videos:"+itoa(vid), "new_annotation", map[string]any{"body": "x", "at": 1})
	if f.reason() != "unmatched topic" {
		t.Errorf("push before join: %s", f.Payload)
	}
	_, f = c.join("videos:"+itoa(vid), map[string]any{"last_seen_id": "seven"})
	if !strings.Contains(f.reason(), "last_seen_id") {
		t.Errorf("join with a bad last_seen_id: %s", f.Payload)
	}
}

func TestStaleJoinRefIgnored(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("st")
	topic := "videos:" + itoa(e.video(uid))
	c := e.dial(tok)
	old := c.mustJoin(topic, map[string]any{})
	cur := c.mustJoin(topic, map[string]any{}) // a duplicate join replaces the channel
	n := c.send(old, "stale-push", topic, "new_annotation", map[string]any{"body": "from the past", "at": 1})
	c.send(old, "stale-leave", topic, "phx_leave", map[string]any{})
	hb := c.send("", "hb", "phoenix", "heartbeat", map[string]any{})
	c.await(hb, 5*time.Second, "heartbeat reply", func(f frame) bool { return f.ref() == "hb" })
	if f, ok := c.tryAwait(n, 200*time.Millisecond, func(f frame) bool { return strings.HasPrefix(f.ref(), "stale") }); ok {
		t.Fatalf("a stale join_ref got an answer: %s", f.Payload)
	}
	if got := e.logIDs(mustVideoID(t, topic)); len(got) != 0 {
		t.Fatalf("a stale push was written: %v", got)
	}
	if st, _ := c.request(cur, topic, "new_annotation", map[string]any{"body": "now", "at": 1}).reply(); st != "ok" {
		t.Fatal("the current join cannot push")
	}
}

func mustVideoID(t testing.TB, topic string) int64 {
	var id int64
	if err := json.Unmarshal([]byte(strings.TrimPrefix(topic, "videos:")), &id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSeveralTopicsOnOneSocket(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("multi")
	t1, t2 := "videos:"+itoa(e.video(uid)), "videos:"+itoa(e.video(uid))
	c := e.dial(tok)
	j1, j2 := c.mustJoin(t1, map[string]any{}), c.mustJoin(t2, map[string]any{})
	c.request(j1, t1, "new_annotation", map[string]any{"body": "on one", "at": 1})
	c.request(j2, t2, "new_annotation", map[string]any{"body": "on two", "at": 2})
	c.await(0, 5*time.Second, "both broadcasts", func(frame) bool {
		return len(c.annotations(t1)) == 1 && len(c.annotations(t2)) == 1
	})
	if a, b := c.annotations(t1)[0], c.annotations(t2)[0]; a.Body != "on one" || b.Body != "on two" || a.ID != 1 || b.ID != 1 {
		t.Fatalf("topic 1 got %+v, topic 2 got %+v", a, b)
	}
}

func TestMalformedFramesKeepTheSocket(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("mal")
	topic := "videos:" + itoa(e.video(uid))
	bystander := e.dial(tok)
	bj := bystander.mustJoin(topic, map[string]any{})
	c := e.dial(tok)
	cases := []struct {
		name string
		mt   int
		data string
		want string
	}{
		{"not json", websocket.TextMessage, `{{{`, "not a JSON array"},
		{"object", websocket.TextMessage, `{"topic":"x"}`, "not a JSON array"},
		{"four elements", websocket.TextMessage, `[null,"1","phoenix","heartbeat"]`, "expected [join_ref"},
		{"six elements", websocket.TextMessage, `[null,"1","phoenix","heartbeat",{},1]`, "expected [join_ref"},
		{"numeric topic", websocket.TextMessage, `[null,"1",7,"heartbeat",{}]`, "topic"},
		{"empty event", websocket.TextMessage, `[null,"1","phoenix","",{}]`, "event"},
		{"ref object", websocket.TextMessage, `[null,{},"phoenix","heartbeat",{}]`, "ref"},
		{"payload array", websocket.TextMessage, `[null,"1","phoenix","heartbeat",[]]`, "payload"},
		{"binary", websocket.BinaryMessage, "\x00\x01\x02", "binary payloads are not supported"},
		{"binary push of another kind", websocket.BinaryMessage, "\x02\x00\x00\x01\x01tex", "binary payloads are not supported"},
		// Refused before JSON decoding, which would turn it into U+FFFD.
		{"invalid utf-8", websocket.TextMessage, "[null,\"1\",\"\xff\",\"heartbeat\",{}]", "valid UTF-8"},
	}
	for _, tc := range cases {
		n := c.count()
		c.sendRaw(tc.mt, []byte(tc.data))
		f := c.await(n, 5*time.Second, tc.name+" error", func(f frame) bool { return f.Event == "phx_error" || f.Event == "phx_reply" })
		if tc.want == "unmatched topic" {
			if f.Event != "phx_reply" || f.reason() != tc.want {
				t.Errorf("%s: got %s %s, want an unmatched topic reply", tc.name, f.Event, f.Payload)
			}
			continue
		}
		if f.Event != "phx_error" || f.Topic != "phoenix" || !strings.Contains(f.reason(), tc.want) {
			t.Errorf("%s: got %s %s, want phx_error containing %q", tc.name, f.Event, f.Payload, tc.want)
		}
	}
	// The socket still works, and so does everyone else's.
	if st, _ := c.request("", "phoenix", "heartbeat", map[string]any{}).reply(); st != "ok" {
		t.Fatal("heartbeat after malformed frames failed")
	}
	if st, _ := bystander.request(bj, topic, "new_annotation", map[string]any{"body": "still here", "at": 1}).reply(); st != "ok" {
		t.Fatal("bystander cannot post")
	}
}

// A binary push as phoenix.js encodes one (kind 0, the lengths of
// join_ref, ref, topic and event, the four, the payload) is refused on
// its own topic and ref, so the client's push fails at once.
func TestBinaryPushRepliedOnItsRef(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("bin")
	topic := "videos:" + itoa(e.video(uid))
	c := e.dial(tok)
	jr := c.mustJoin(topic, map[string]any{})
	event := "new_annotation"
	msg := []byte{0, byte(len(jr)), 2, byte(len(topic)), byte(len(event))}
	msg = append(msg, jr+"77"+topic+event...)
	msg = append(msg, 1, 2, 3)
	n := c.count()
	c.sendRaw(websocket.BinaryMessage, msg)
	f := c.await(n, 5*time.Second, "the binary push's reply", func(f frame) bool { return f.Event == "phx_reply" || f.Event == "phx_error" })
	if f.Event != "phx_reply" || f.Topic != topic || f.Ref == nil || *f.Ref != "77" || f.reason() != "binary payloads are not supported" {
		t.Fatalf("binary push answered %s %s ref %v: %s, want a phx_reply error on %s ref 77", f.Event, f.Topic, f.Ref, f.Payload, topic)
	}
	if st, _ := c.request(jr, topic, "new_annotation", map[string]any{"body": "text still works", "at": 1}).reply(); st != "ok" {
		t.Fatal("the socket cannot post after a binary push")
	}
}

func TestFrameSizeLimits(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("big")
	topic := "videos:" + itoa(e.video(uid))
	bystander := e.dial(tok)
	bj := bystander.mustJoin(topic, map[string]any{})
	c := e.dial(tok)
	jr := c.mustJoin(topic, map[string]any{})

	// Over MaxFrameBytes (32 KiB): refused, the socket stays.
	f := c.request(jr, topic, "new_annotation", map[string]any{"body": strings.Repeat("a", 40_000), "at": 1})
	if !strings.Contains(f.reason(), "message too large") {
		t.Fatalf("40 KB frame: %s", f.Payload)
	}
	if st, _ := c.request("", "phoenix", "heartbeat", map[string]any{}).reply(); st != "ok" {
		t.Fatal("socket unusable after a large frame")
	}
	// Over four times that: the socket is closed with 1009, alone.
	// The server may close before it has read all of it, so the write
	// itself may fail with a reset: only the close matters.
	huge, _ := json.Marshal([]any{jr, "9", topic, "new_annotation", map[string]any{"body": strings.Repeat("a", 200_000), "at": 1}})
	_ = c.ws.WriteMessage(websocket.TextMessage, huge)
	var ce *websocket.CloseError
	if err := c.closeErr(5 * time.Second); !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("200 KB frame: socket ended with %v, want close 1009", err)
	}
	if st, _ := bystander.request(bj, topic, "new_annotation", map[string]any{"body": "unaffected", "at": 1}).reply(); st != "ok" {
		t.Fatal("bystander affected")
	}
	if got := e.logIDs(mustVideoID(t, topic)); len(got) != 1 {
		t.Fatalf("log has %d annotations, want only the bystander's", len(got))
	}
}

func TestRateLimitAndFlood(t *testing.T) {
	e := newEnv(t, channels.Config{PushRate: 0.001, PushBurst: 4, FloodStrikes: 5})
	uid, _, tok := e.user("flood")
	_, _, otherTok := e.user("calm")
	topic := "videos:" + itoa(e.video(uid))
	other := e.dial(otherTok)
	oj := other.mustJoin(topic, map[string]any{})
	c := e.dial(tok)
	jr := c.mustJoin(topic, map[string]any{}) // joins have their own limit
	for i := range 4 {
		if st, _ := c.request(jr, topic, "new_annotation", map[string]any{"body": "ok", "at": i}).reply(); st != "ok" {
			t.Fatalf("push %d within the burst refused", i)
		}
	}
	f := c.request(jr, topic, "new_annotation", map[string]any{"body": "one too many", "at": 9})
	if f.reason() != "too many messages, slow down" {
		t.Fatalf("push over the limit: %s", f.Payload)
	}
	for i := range 10 {
		// The server closes the socket after 5 of them: later writes may fail.
		if c.trySend(jr, "f"+itoa(int64(i)), topic, "new_annotation", map[string]any{"body": "flood", "at": 9}) != nil {
			break
		}
	}
	var ce *websocket.CloseError
	if err := c.closeErr(5 * time.Second); !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("flooder ended with %v, want close 1008", err)
	}
	if st, _ := other.request(oj, topic, "new_annotation", map[string]any{"body": "me too", "at": 1}).reply(); st != "ok" {
		t.Fatal("another user was limited by the flooder")
	}
	if got := len(e.logIDs(mustVideoID(t, topic))); got != 5 {
		t.Fatalf("log has %d annotations, want 5", got)
	}
}

// panicky wraps the real annotation commands and panics on one body, to
// show that a channel's failure stays in that channel.
type panicky struct{ *annotations.Service }

func (p panicky) PostRange(ctx context.Context, videoID, userID int64, username, body string, at, duration int64, meta eventstore.Metadata) (int64, error) {
	if body == "boom" {
		panic("injected failure")
	}
	return p.Service.PostRange(ctx, videoID, userID, username, body, at, duration, meta)
}

func TestChannelFailureIsolated(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("crash")
	v1, v2 := e.video(uid), e.video(uid)
	srv := channels.New(permissive(), channels.Deps{
		Store: e.store, Tokens: e.tokens, Users: e.accounts, Videos: e.catalog,
		Annotations: panicky{annotations.New(e.store, e.catalog, nil)},
	}, testLogger(t))
	e.swapHandler(t, srv)
	c := e.dial(tok)
	t1, t2 := "videos:"+itoa(v1), "videos:"+itoa(v2)
	j1, j2 := c.mustJoin(t1, map[string]any{}), c.mustJoin(t2, map[string]any{})
	n := c.send(j1, "x", t1, "new_annotation", map[string]any{"body": "boom", "at": 1})
	f := c.await(n, 5*time.Second, "phx_error", func(f frame) bool { return f.Event == "phx_error" })
	if f.Topic != t1 || f.joinRef() != j1 {
		t.Fatalf("phx_error for %s/%s, want %s/%s", f.Topic, f.joinRef(), t1, j1)
	}
	if st, _ := c.request(j2, t2, "new_annotation", map[string]any{"body": "fine", "at": 1}).reply(); st != "ok" {
		t.Fatal("the other channel of the socket failed too")
	}
	// The failed channel can be joined again, as the client does.
	j1 = c.mustJoin(t1, map[string]any{})
	if st, _ := c.request(j1, t1, "new_annotation", map[string]any{"body": "again", "at": 1}).reply(); st != "ok" {
		t.Fatal("rejoined channel cannot post")
	}
	shutdown(t, srv)
}

func shutdown(t testing.TB, srv *channels.Server) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// A client that negotiated permessage-deflate may send compressed
// messages: they are read like any other, and one that inflates past
// the read limit closes its socket with 1009, however small it was sent.
func TestCompressedClientFrames(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("zip")
	topic := "videos:" + itoa(e.video(uid))
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, EnableCompression: true}
	ws, resp, err := d.Dial(e.url("token="+tok+"&vsn=2.0.0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.HasPrefix(ext, "permessage-deflate") {
		t.Fatalf("extensions %q: permessage-deflate not negotiated", ext)
	}
	c := &client{t: t, ws: ws, wake: make(chan struct{}), done: make(chan struct{})}
	go c.read()
	t.Cleanup(c.close)
	jr := c.mustJoin(topic, map[string]any{})
	if f := c.request(jr, topic, "new_annotation", map[string]any{"body": strings.Repeat("z ", 400), "at": 1}); f.reason() != "" {
		t.Fatalf("a compressed post: %s", f.Payload)
	}
	huge, _ := json.Marshal([]any{jr, "9", topic, "new_annotation", map[string]any{"body": strings.Repeat("a", 200_000), "at": 1}})
	_ = c.ws.WriteMessage(websocket.TextMessage, huge)
	var ce *websocket.CloseError
	if err := c.closeErr(5 * time.Second); !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("200 KB inflated: socket ended with %v, want close 1009", err)
	}
	if got := e.logIDs(mustVideoID(t, topic)); len(got) != 1 {
		t.Fatalf("log has %d annotations, want the one compressed post", len(got))
	}
}
