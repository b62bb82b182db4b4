package channels_test

import (
	"testing"
	"time"

	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/eventstore"
)

// TestOfficialPhoenixClientReplies: the official client replies, edits and
// deletes its reply, is refused a reply to a reply with a reason, and
// receives another user's replies live as new_reply with the parent's id.
// Across a restart with replies posted meanwhile, it rejoins with the
// book's last_seen_id and finds them in the join reply's "replies", while
// its annotations stay exactly the log's: no reply is ever one of them.
// Over both of phoenix's transports.
func TestOfficialPhoenixClientReplies(t *testing.T) {
	requireNode(t)
	for _, transport := range []string{"websocket", "longpoll"} {
		t.Run(transport, func(t *testing.T) { officialClientReplies(t, transport) })
	}
}

func officialClientReplies(t *testing.T, transport string) {
	e := newEnv(t, permissive())
	jsID, jsName, jsTok := e.user("js")
	goID, goName, goTok := e.user("go")
	vid := e.video(goID)
	topic := "videos:" + itoa(vid)
	parent := e.post(vid, goID, goName, "a note")

	js := startJSOver(t, e, transport, jsTok, topic, "params")
	js.expect("join", func(m jsMsg) bool { return m.Type == "joined" })
	gc := e.dial(goTok)
	gj := gc.mustJoin(topic, map[string]any{})

	js.send(map[string]any{"cmd": "reply", "parent_id": parent, "body": " from node "})
	from := js.cursor
	ok := js.expect("reply ok", func(m jsMsg) bool { return m.Type == "reply_ok" || m.Type == "reply_error" })
	if ok.Type != "reply_ok" || ok.ID <= parent {
		t.Fatalf("new_reply from the official client: %s", ok.raw)
	}
	i, own := js.find(from, "own reply broadcast", func(m jsMsg) bool { return m.Type == "new_reply" && m.ID == ok.ID })
	js.cursor = max(js.cursor, i+1)
	if own.ParentID != parent || own.Body != "from node" || own.User.ID != jsID || own.User.Username != jsName || own.Rev != ok.ID {
		t.Fatalf("new_reply broadcast %s", own.raw)
	}
	gc.await(0, 10*time.Second, "the node client's reply", func(f frame) bool { return f.Event == "new_reply" })
	gc.request(gj, topic, "new_reply", map[string]any{"parent_id": parent, "body": "from go"})
	js.expect("go's reply", func(m jsMsg) bool { return m.Type == "new_reply" && m.Body == "from go" && m.ParentID == parent })

	js.send(map[string]any{"cmd": "reply", "parent_id": ok.ID, "body": "nested"})
	if m := js.expect("refusal", func(m jsMsg) bool { return m.Type == "reply_error" || m.Type == "reply_ok" }); m.Type != "reply_error" || m.Reason == "" {
		t.Fatalf("a reply to a reply: %s", m.raw)
	}
	js.send(map[string]any{"cmd": "edit_reply", "id": ok.ID, "body": "edited in node"})
	js.expect("reply_updated", func(m jsMsg) bool { return m.Type == "reply_updated" && m.ID == ok.ID && m.Body == "edited in node" })
	js.send(map[string]any{"cmd": "delete_reply", "id": ok.ID})
	js.expect("reply_deleted", func(m jsMsg) bool { return m.Type == "reply_deleted" && m.ID == ok.ID })

	// The server goes away; replies land while it is down.
	e.stop()
	js.expect("socket close", func(m jsMsg) bool { return m.Type == "close" })
	st, err := openStore(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	svc := annotations.New(st, nil, nil)
	var missed []int64
	for _, body := range []string{"while down 1", "while down 2"} {
		id, err := svc.Reply(t.Context(), vid, parent, goID, goName, body, eventstore.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		missed = append(missed, id)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	e.start()
	rejoined := js.expect("rejoin", func(m jsMsg) bool { return m.Type == "joined" })
	// last_seen_id is the note's id: every reply after it comes, the
	// deleted one excepted, and no annotation (there is none after it).
	if len(rejoined.IDs) != 0 || len(rejoined.Replies) < len(missed) || !equal(rejoined.Replies[len(rejoined.Replies)-len(missed):], missed) {
		t.Fatalf("rejoin reply: annotations %v, replies %v; want none and ...%v", rejoined.IDs, rejoined.Replies, missed)
	}
	js.send(map[string]any{"cmd": "exit"})
	final := js.expect("final", func(m jsMsg) bool { return m.Type == "final" })
	if !equal(final.IDs, e.logIDs(vid)) {
		t.Fatalf("the official client's annotations %v, the log's %v", final.IDs, e.logIDs(vid))
	}
}
