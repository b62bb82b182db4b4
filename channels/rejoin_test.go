package channels_test

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// view is what a client shows of a video: live annotation bodies by id,
// and the last id and client revision it applied, which it sends back as
// last_seen_id and last_seen_rev when it rejoins.
type view struct {
	bodies   map[int64]string
	lastID   int64
	lastRev  int64
	consumed int // frames of the client already applied
}

// apply folds the frames of topic received since the last call, as the
// browser client does.
func (v *view) apply(t testing.TB, c *client, topic string) {
	t.Helper()
	c.mu.Lock()
	frames := append([]frame(nil), c.frames[v.consumed:]...)
	v.consumed = len(c.frames)
	c.mu.Unlock()
	type ann struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
		Rev  int64  `json:"rev"`
	}
	upsert := func(a ann) {
		v.bodies[a.ID] = a.Body
		v.lastID = max(v.lastID, a.ID)
	}
	for _, f := range frames {
		if f.Topic != topic {
			continue
		}
		switch f.Event {
		case "phx_reply":
			st, resp := f.reply()
			var r struct {
				Annotations []ann   `json:"annotations"`
				Updated     []ann   `json:"updated"`
				Deleted     []int64 `json:"deleted"`
				Rev         *int64  `json:"rev"`
			}
			if st != "ok" || json.Unmarshal(resp, &r) != nil || r.Rev == nil {
				continue // not a join reply
			}
			for _, a := range r.Annotations {
				upsert(a)
			}
			for _, a := range r.Updated {
				upsert(a)
			}
			for _, id := range r.Deleted {
				delete(v.bodies, id)
			}
			v.lastRev = *r.Rev
		case "new_annotation", "annotation_updated":
			var a ann
			_ = json.Unmarshal(f.Payload, &a)
			upsert(a)
			v.lastRev = a.Rev
		case "annotation_deleted":
			var a ann
			_ = json.Unmarshal(f.Payload, &a)
			delete(v.bodies, a.ID)
			v.lastRev = a.Rev
		}
	}
}

// fold is the log's answer: the live annotations of videoID by id.
func (e *env) fold(videoID int64) map[int64]string {
	e.t.Helper()
	var s domain.Annotations
	for _, ev := range e.readStream(domain.VideoStream(videoID)) {
		switch ev.Type {
		case domain.TypeAnnotationPosted:
			var p domain.AnnotationPosted
			_ = json.Unmarshal(ev.Data, &p)
			s.Posted(videoID, ev.Revision, p, ev.RecordedAt)
		case domain.TypeAnnotationEdited:
			var p domain.AnnotationEdited
			_ = json.Unmarshal(ev.Data, &p)
			s.Edited(p, ev.RecordedAt)
		case domain.TypeAnnotationDeleted:
			var p domain.AnnotationDeleted
			_ = json.Unmarshal(ev.Data, &p)
			s.Deleted(p)
		}
	}
	out := map[int64]string{}
	for _, a := range s.Live() {
		out[a.ID] = a.Body
	}
	return out
}

func TestRejoinCatchesUpEditsAndDeletes(t *testing.T) {
	e := newEnv(t, permissive())
	uid, name, tok := e.user("author")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	svc := annotations.New(e.store, e.catalog, nil)
	ctx := t.Context()

	c := e.dial(tok)
	c.mustJoin(topic, map[string]any{})
	var ids []int64
	for _, body := range []string{"one", "two", "three", "four"} {
		ids = append(ids, e.post(vid, uid, name, body))
	}
	if err := svc.Edit(ctx, vid, ids[3], uid, "four, edited while watching", eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	v := &view{bodies: map[int64]string{}}
	eventually(t, "the client to see every change", 5*time.Second, func() bool {
		v.apply(t, c, topic)
		return maps.Equal(v.bodies, e.fold(vid))
	})
	c.close()
	away := maps.Clone(v.bodies) // what the client showed when it left

	// While the client is away: edits and deletes of what it has seen,
	// and a post that is then edited and one that is deleted.
	if err := svc.Edit(ctx, vid, ids[0], uid, "one, edited while away", eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, vid, ids[1], uid, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Edit(ctx, vid, ids[2], uid, "three, first edit", eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Edit(ctx, vid, ids[2], uid, "three, second edit", eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	five := e.post(vid, uid, name, "five")
	six := e.post(vid, uid, name, "six")
	if err := svc.Edit(ctx, vid, five, uid, "five, edited", eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, vid, six, uid, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}

	c = e.dial(tok)
	v.consumed = 0
	_, reply := c.join(topic, map[string]any{"last_seen_id": v.lastID, "last_seen_rev": v.lastRev})
	if st, _ := reply.reply(); st != "ok" {
		t.Fatalf("rejoin: %s", reply.Payload)
	}
	// The reply reflects the hub's fold when the join reached it; changes
	// the hub had not yet read from the log follow as pushes. Either way
	// the client must end with the log's fold.
	want := e.fold(vid)
	eventually(t, "the rejoined client to show the log's annotations", 5*time.Second, func() bool {
		v.apply(t, c, topic)
		return maps.Equal(v.bodies, want)
	})

	// The book's recipe, last_seen_id alone, ends exact too: the reply
	// brings the changes made since that annotation was posted (an edit
	// the client had already seen comes again, the same state).
	book := e.dial(tok)
	bv := &view{bodies: away, lastID: ids[3]}
	if _, reply := book.join(topic, map[string]any{"last_seen_id": ids[3]}); func() bool { st, _ := reply.reply(); return st != "ok" }() {
		t.Fatalf("rejoin with last_seen_id alone: %s", reply.Payload)
	}
	eventually(t, "the book's client to show the log's annotations", 5*time.Second, func() bool {
		bv.apply(t, book, topic)
		return maps.Equal(bv.bodies, e.fold(vid))
	})
}

// A client that rejoins claiming more of the video than its stream holds
// (the log lost its tail, or a backup was restored) is refused with
// history_rewound and the head, so that it drops its list and joins
// afresh instead of missing the posts that reuse its positions.
func TestRejoinBeyondTheHeadIsRefused(t *testing.T) {
	e := newEnv(t, permissive())
	uid, name, tok := e.user("author")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	for _, body := range []string{"one", "two"} {
		e.post(vid, uid, name, body)
	}
	head := int64(len(e.readStream(domain.VideoStream(vid))))
	c := e.dial(tok)
	for _, params := range []map[string]any{
		{"last_seen_id": head + 5},
		{"last_seen_id": 1, "last_seen_rev": head + 1},
	} {
		_, reply := c.join(topic, params)
		st, resp := reply.reply()
		var r struct {
			Reason string `json:"reason"`
			Head   *int64 `json:"head"`
		}
		if st != "error" || json.Unmarshal(resp, &r) != nil || r.Reason != "history_rewound" || r.Head == nil || *r.Head != head {
			t.Fatalf("join with %v on a video at revision %d: %s", params, head, reply.Payload)
		}
	}
	// At the head itself, and from scratch, the join is as before.
	for _, params := range []map[string]any{{"last_seen_id": 2, "last_seen_rev": head}, {}} {
		if _, reply := c.join(topic, params); func() string { st, _ := reply.reply(); return st }() != "ok" {
			t.Fatalf("join with %v: %s", params, reply.Payload)
		}
	}
}
