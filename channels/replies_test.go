package channels_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

type replyMsg struct {
	ID       int64  `json:"id"`
	ParentID int64  `json:"parent_id"`
	Body     string `json:"body"`
	User     struct {
		ID       int64  `json:"id"`
		Username string `json:"username"`
	} `json:"user"`
	InsertedAt string `json:"inserted_at"`
	EditedAt   string `json:"edited_at"`
	Rev        int64  `json:"rev"`
}

// TestRepliesLive: a reply, its edit and its delete reach every viewer as
// new_reply, reply_updated and reply_deleted, never as an annotation.
func TestRepliesLive(t *testing.T) {
	e := newEnv(t, permissive())
	uid, name, tok := e.user("author")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	parent := e.post(vid, uid, name, "the note")
	other, _, otok := e.user("viewer")

	c := e.dial(tok)
	jr := c.mustJoin(topic, map[string]any{})
	w := e.dial(otok)
	w.mustJoin(topic, map[string]any{})

	from := w.count()
	f := c.request(jr, topic, "new_reply", map[string]any{"parent_id": parent, "body": "  an answer  "})
	st, resp := f.reply()
	var ok struct{ ID int64 }
	if st != "ok" || json.Unmarshal(resp, &ok) != nil || ok.ID != parent+1 {
		t.Fatalf("new_reply: %s", f.Payload)
	}
	push := w.await(from, 10*time.Second, "new_reply", func(f frame) bool { return f.Event == "new_reply" })
	var r replyMsg
	if err := json.Unmarshal(push.Payload, &r); err != nil {
		t.Fatal(err)
	}
	if r.ID != ok.ID || r.ParentID != parent || r.Body != "an answer" || r.User.ID != uid || r.User.Username != name || r.InsertedAt == "" || r.Rev != ok.ID {
		t.Fatalf("new_reply push %s", push.Payload)
	}
	if got := ids(w.annotations(topic)); len(got) != 1 || got[0] != parent {
		t.Fatalf("a client that knows only annotations shows %v", got)
	}

	from = w.count()
	if f := c.request(jr, topic, "edit_reply", map[string]any{"id": r.ID, "body": "a better answer"}); func() string { s, _ := f.reply(); return s }() != "ok" {
		t.Fatalf("edit_reply: %s", f.Payload)
	}
	push = w.await(from, 10*time.Second, "reply_updated", func(f frame) bool { return f.Event == "reply_updated" })
	r = replyMsg{}
	if json.Unmarshal(push.Payload, &r) != nil || r.Body != "a better answer" || r.EditedAt == "" || r.ParentID != parent {
		t.Fatalf("reply_updated push %s", push.Payload)
	}

	// Someone else's reply is not theirs to change.
	wj := ""
	w.mu.Lock()
	for _, f := range w.frames {
		if f.Event == "phx_reply" && f.Topic == topic {
			wj = f.ref()
			break
		}
	}
	w.mu.Unlock()
	if f := w.request(wj, topic, "delete_reply", map[string]any{"id": r.ID}); !strings.Contains(f.reason(), "only the author") {
		t.Fatalf("delete of another's reply by user %d: %s", other, f.Payload)
	}

	from = w.count()
	if f := c.request(jr, topic, "delete_reply", map[string]any{"id": r.ID}); func() string { s, _ := f.reply(); return s }() != "ok" {
		t.Fatalf("delete_reply: %s", f.Payload)
	}
	push = w.await(from, 10*time.Second, "reply_deleted", func(f frame) bool { return f.Event == "reply_deleted" })
	var d struct{ ID, Rev int64 }
	if json.Unmarshal(push.Payload, &d) != nil || d.ID != r.ID || d.Rev == 0 {
		t.Fatalf("reply_deleted push %s", push.Payload)
	}
	for _, f := range w.frames {
		if strings.HasPrefix(f.Event, "annotation_") || (f.Event == "new_annotation") {
			t.Fatalf("a reply came as %s: %s", f.Event, f.Payload)
		}
	}
}

// TestReplyValidation: every refusal is a phx_reply error with a reason,
// and nothing is written.
func TestReplyValidation(t *testing.T) {
	e := newEnv(t, permissive())
	uid, name, tok := e.user("val")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	// Another video whose stream is longer: its ids mean nothing here.
	elsewhere := e.video(uid)
	for range 5 {
		e.post(elsewhere, uid, name, "elsewhere")
	}
	live := e.post(vid, uid, name, "live")
	gone := e.post(vid, uid, name, "gone")
	svc := annotations.New(e.store, e.catalog, nil)
	reply, err := svc.Reply(t.Context(), vid, live, uid, name, "a reply", eventstore.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	deadReply, err := svc.Reply(t.Context(), vid, live, uid, name, "withdrawn", eventstore.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteReplySeen(t.Context(), vid, deadReply, uid, -1, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	// gone has a reply, then is deleted: the reply stays, the thread closes.
	if _, err := svc.Reply(t.Context(), vid, gone, uid, name, "answered before", eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(t.Context(), vid, gone, uid, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	_, _, otok := e.user("mallory")

	c := e.dial(tok)
	jr := c.mustJoin(topic, map[string]any{})
	o := e.dial(otok)
	ojr := o.mustJoin(topic, map[string]any{})
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	cases := []struct {
		name    string
		other   bool
		event   string
		payload any
		reason  string
	}{
		{"unknown parent", false, "new_reply", map[string]any{"parent_id": 999, "body": "x"}, "parent_id must be the id of an annotation of this video"},
		{"parent of another video", false, "new_reply", map[string]any{"parent_id": 7, "body": "x"}, "parent_id must be the id of an annotation of this video"},
		{"parent missing", false, "new_reply", map[string]any{"body": "x"}, "parent_id must be"},
		{"parent zero", false, "new_reply", map[string]any{"parent_id": 0, "body": "x"}, "parent_id must be"},
		{"parent string", false, "new_reply", map[string]any{"parent_id": itoa(live), "body": "x"}, "parent_id must be"},
		{"parent fractional", false, "new_reply", map[string]any{"parent_id": raw("1.0"), "body": "x"}, "parent_id must be"},
		{"reply to a reply", false, "new_reply", map[string]any{"parent_id": reply, "body": "x"}, "replies are one level deep"},
		{"deleted parent", false, "new_reply", map[string]any{"parent_id": gone, "body": "x"}, "the annotation was deleted"},
		{"blank body", false, "new_reply", map[string]any{"parent_id": live, "body": "  "}, "body can't be blank"},
		{"body too long", false, "new_reply", map[string]any{"parent_id": live, "body": strings.Repeat("a", domain.MaxBodyLen+1)}, "body must be at most 1000 characters"},
		{"body missing", false, "new_reply", map[string]any{"parent_id": live}, "body must be a string"},
		{"lone surrogate", false, "new_reply", map[string]any{"parent_id": live, "body": raw(`"\ud800"`)}, "lone UTF-16 surrogate"},
		{"edit an annotation as a reply", false, "edit_reply", map[string]any{"id": live, "body": "x"}, "id must be the id of a reply"},
		{"edit an unknown reply", false, "edit_reply", map[string]any{"id": 999, "body": "x"}, "id must be the id of a reply"},
		{"edit a deleted reply", false, "edit_reply", map[string]any{"id": deadReply, "body": "x"}, "this reply was deleted"},
		{"edit another's reply", true, "edit_reply", map[string]any{"id": reply, "body": "x"}, "only the author may change this reply"},
		{"edit with a blank body", false, "edit_reply", map[string]any{"id": reply, "body": ""}, "body can't be blank"},
		{"delete another's reply", true, "delete_reply", map[string]any{"id": reply}, "only the author may change this reply"},
		{"delete a deleted reply", false, "delete_reply", map[string]any{"id": deadReply}, "this reply was deleted"},
		{"delete without id", false, "delete_reply", map[string]any{}, "id must be the id of a reply"},
		{"edit a reply as an annotation", false, "edit_annotation", map[string]any{"id": reply, "body": "x"}, "not found"},
		{"delete a reply as an annotation", false, "delete_annotation", map[string]any{"id": reply}, "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.readStream(domain.VideoStream(vid)))
			cl, ref := c, jr
			if tc.other {
				cl, ref = o, ojr
			}
			f := cl.request(ref, topic, tc.event, tc.payload)
			if st, _ := f.reply(); st != "error" || !strings.Contains(f.reason(), tc.reason) {
				t.Fatalf("reply %s, want an error containing %q", f.Payload, tc.reason)
			}
			if after := len(e.readStream(domain.VideoStream(vid))); after != before {
				t.Fatalf("a refused push wrote %d events", after-before)
			}
		})
	}
}

// threads is what a client shows of a video's replies: live bodies by id,
// beside its annotations (view), folded as the browser client does.
type threads struct {
	view
	replies map[int64]string
}

func (v *threads) apply(t testing.TB, c *client, topic string) {
	t.Helper()
	c.mu.Lock()
	frames := append([]frame(nil), c.frames[v.consumed:]...)
	c.mu.Unlock()
	v.view.apply(t, c, topic)
	upsert := func(r replyMsg) {
		v.replies[r.ID] = r.Body
		v.lastID = max(v.lastID, r.ID)
	}
	for _, f := range frames {
		if f.Topic != topic {
			continue
		}
		switch f.Event {
		case "phx_reply":
			st, resp := f.reply()
			var r struct {
				Replies []replyMsg `json:"replies"`
				Updated []replyMsg `json:"replies_updated"`
				Deleted []int64    `json:"replies_deleted"`
			}
			if st != "ok" || json.Unmarshal(resp, &r) != nil {
				continue
			}
			for _, x := range append(r.Replies, r.Updated...) {
				upsert(x)
			}
			for _, id := range r.Deleted {
				delete(v.replies, id)
			}
		case "new_reply", "reply_updated":
			var r replyMsg
			_ = json.Unmarshal(f.Payload, &r)
			upsert(r)
			v.lastRev = r.Rev
		case "reply_deleted":
			var r replyMsg
			_ = json.Unmarshal(f.Payload, &r)
			delete(v.replies, r.ID)
			v.lastRev = r.Rev
		}
	}
}

// replyFold is the log's answer: the live replies of videoID by id.
func (e *env) replyFold(videoID int64) map[int64]string {
	e.t.Helper()
	var s domain.Annotations
	for _, ev := range e.readStream(domain.VideoStream(videoID)) {
		switch ev.Type {
		case domain.TypeReplyPosted:
			var p domain.ReplyPosted
			_ = json.Unmarshal(ev.Data, &p)
			s.Replied(videoID, ev.Revision, p, ev.RecordedAt)
		case domain.TypeReplyEdited:
			var p domain.ReplyEdited
			_ = json.Unmarshal(ev.Data, &p)
			s.ReplyEdited(p, ev.RecordedAt)
		case domain.TypeReplyDeleted:
			var p domain.ReplyDeleted
			_ = json.Unmarshal(ev.Data, &p)
			s.ReplyDeleted(p)
		}
	}
	out := map[int64]string{}
	for a := range s.After(0) {
		if !a.Deleted {
			out[a.ID] = a.Body
		}
	}
	return out
}

// TestRepliesCatchUp: a client that rejoins with last_seen_id and
// last_seen_rev, in one join reply or over pages, ends with the log's
// replies and annotations, across a crash of the server; one that
// rejoins with last_seen_id alone (the book's) sees annotations only.
func TestRepliesCatchUp(t *testing.T) {
	for _, pageSize := range []int{500, 2} {
		t.Run("page size "+itoa(int64(pageSize)), func(t *testing.T) {
			cfg := permissive()
			cfg.PageSize = pageSize
			e := newEnv(t, cfg)
			uid, name, tok := e.user("author")
			vid := e.video(uid)
			topic := "videos:" + itoa(vid)
			svc := annotations.New(e.store, e.catalog, nil)
			ctx := t.Context()
			meta := eventstore.Metadata{}

			a1 := e.post(vid, uid, name, "one")
			a2 := e.post(vid, uid, name, "two")
			r1, err := svc.Reply(ctx, vid, a1, uid, name, "re one", meta)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := svc.Reply(ctx, vid, a2, uid, name, "re two", meta)
			if err != nil {
				t.Fatal(err)
			}
			c := e.dial(tok)
			c.mustJoin(topic, map[string]any{})
			v := &threads{view: view{bodies: map[int64]string{}}, replies: map[int64]string{}}
			eventually(t, "the client to see the history", 10*time.Second, func() bool {
				v.apply(t, c, topic)
				return maps.Equal(v.replies, e.replyFold(vid)) && maps.Equal(v.bodies, e.fold(vid))
			})
			c.close()
			bookLast := a2

			// While the client is away: a reply edited, one deleted, the
			// parent of another deleted, new replies; then the server dies.
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(svc.EditReplySeen(ctx, vid, r1, uid, "re one, edited", -1, meta))
			must(svc.DeleteReplySeen(ctx, vid, r2, uid, -1, meta))
			a3 := e.post(vid, uid, name, "three")
			r3, err := svc.Reply(ctx, vid, a3, uid, name, "re three", meta)
			must(err)
			_, err = svc.Reply(ctx, vid, a1, uid, name, "re one again", meta)
			must(err)
			must(svc.Delete(ctx, vid, a1, uid, meta))
			must(svc.EditReplySeen(ctx, vid, r3, uid, "re three, edited", -1, meta))
			e.crash()
			e.start()

			c = e.dial(tok)
			v.consumed = 0
			if _, reply := c.join(topic, map[string]any{"last_seen_id": v.lastID, "last_seen_rev": v.lastRev}); func() string { s, _ := reply.reply(); return s }() != "ok" {
				t.Fatalf("rejoin: %s", reply.Payload)
			}
			eventually(t, "the rejoined client to show the log's threads", 10*time.Second, func() bool {
				v.apply(t, c, topic)
				return maps.Equal(v.replies, e.replyFold(vid)) && maps.Equal(v.bodies, e.fold(vid))
			})
			if _, ok := v.replies[r1]; !ok {
				t.Fatalf("a reply to a deleted annotation left the client's threads: %v", v.replies)
			}

			// The book's client: its largest annotation id alone; it sees
			// the annotations exact, and no reply among them.
			book := e.dial(tok)
			bv := &view{bodies: map[int64]string{a1: "one", a2: "two"}, lastID: bookLast}
			book.mustJoin(topic, map[string]any{"last_seen_id": bookLast})
			eventually(t, "the book's client to show the log's annotations", 10*time.Second, func() bool {
				bv.apply(t, book, topic)
				return maps.Equal(bv.bodies, e.fold(vid))
			})
			for _, a := range book.annotations(topic) {
				if _, isReply := e.replyFold(vid)[a.ID]; isReply {
					t.Fatalf("the book's client got reply %d as an annotation", a.ID)
				}
			}
		})
	}
}
