package channels_test

import (
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// TestOfficialPhoenixClientLongPoll runs phoenix.js's LongPoll transport:
// join, push and reply, broadcasts both ways, presence, and a session
// that ends with its server (410) followed by an exact catch-up.
func TestOfficialPhoenixClientLongPoll(t *testing.T) {
	requireNode(t)
	e := newEnv(t, permissive())
	jsID, jsName, jsTok := e.user("js")
	goID, goName, goTok := e.user("go")
	vid := e.video(goID)
	topic := "videos:" + itoa(vid)
	for i := range 3 {
		e.post(vid, goID, goName, "history "+itoa(int64(i)))
	}

	js := startJSOver(t, e, "longpoll", jsTok, topic, "params")
	joined := js.expect("join", func(m jsMsg) bool { return m.Type == "joined" })
	if !equal(joined.IDs, []int64{1, 2, 3}) {
		t.Fatalf("join reply ids %v, want [1 2 3]", joined.IDs)
	}

	gc := e.dial(goTok)
	gj := gc.mustJoin(topic, map[string]any{"last_seen_id": 3})
	js.expect("presence of both users", func(m jsMsg) bool {
		if m.Type != "presence" || len(m.List) != 2 {
			return false
		}
		names := map[string]string{}
		for _, p := range m.List {
			names[p.ID] = p.Username
		}
		return names[key(jsID)] == jsName && names[key(goID)] == goName
	})

	js.send(map[string]any{"cmd": "post", "body": "from long poll", "at": 7})
	from := js.cursor
	posted := js.expect("post reply", func(m jsMsg) bool { return m.Type == "posted" })
	i, got := js.find(from, "own broadcast", func(m jsMsg) bool { return m.Type == "annotation" && m.ID == posted.ID })
	js.cursor = max(js.cursor, i+1)
	if got.Body != "from long poll" || got.User.ID != jsID {
		t.Fatalf("broadcast %s", got.raw)
	}
	gc.await(0, 5*time.Second, "the long-poll client's annotation", func(f frame) bool { return f.Event == "new_annotation" })
	gc.request(gj, topic, "new_annotation", map[string]any{"body": "from go", "at": 1})
	js.expect("go's annotation", func(m jsMsg) bool { return m.Type == "annotation" && m.Body == "from go" })

	// The server goes away: the session with it. Annotations land while
	// it is down; once it is back, the client's old token gets 410, and
	// it opens a session, rejoins and catches up exactly.
	restartAndCatchUp(t, e, js, vid, goID, goName, goTok, topic, "long-poll")
}

// TestOfficialPhoenixClientLongPollAuthToken: with authToken, phoenix.js
// sends the user token in a header of its GETs only; the session token
// alone carries its POSTs.
func TestOfficialPhoenixClientLongPollAuthToken(t *testing.T) {
	requireNode(t)
	e := newEnv(t, permissive())
	uid, _, tok := e.user("hdr")
	vid := e.video(uid)
	js := startJSOver(t, e, "longpoll", tok, "videos:"+itoa(vid), "subprotocol")
	js.expect("join with authToken", func(m jsMsg) bool { return m.Type == "joined" })
	js.send(map[string]any{"cmd": "post", "body": "by header", "at": 1})
	js.expect("post reply", func(m jsMsg) bool { return m.Type == "posted" })
	js.send(map[string]any{"cmd": "binary"})
	refused := js.expect("binary push answered", func(m jsMsg) bool { return strings.HasPrefix(m.Type, "binary_") })
	if refused.Type != "binary_error" || refused.Reason != "binary payloads are not supported" {
		t.Fatalf("binary push: %s, want binary_error with the reason", refused.raw)
	}
	js.send(map[string]any{"cmd": "exit"})
	js.expect("final", func(m jsMsg) bool { return m.Type == "final" })
}

// TestOfficialPhoenixClientLongPollSignOut: phoenix.js's LongPoll closes
// with 1008 when its sign-in ends, which the page takes as signed out.
func TestOfficialPhoenixClientLongPollSignOut(t *testing.T) {
	requireNode(t)
	e := newEnv(t, permissive())
	uid, _, tok := e.user("jsout")
	_, signIn, _ := e.tokens.Verify(tok)
	vid := e.video(uid)
	js := startJSOver(t, e, "longpoll", tok, "videos:"+itoa(vid), "params")
	js.expect("join", func(m jsMsg) bool { return m.Type == "joined" })
	if err := e.accounts.SignOut(t.Context(), uid, signIn, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	closed := js.expect("close", func(m jsMsg) bool { return m.Type == "close" })
	if closed.Code != 1008 {
		t.Fatalf("closed with %s, want code 1008", closed.raw)
	}
}
