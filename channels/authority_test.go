package channels_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/eventstore"
)

// readCounter counts the reads the annotation commands make of the log.
type readCounter struct {
	annotations.Store
	reads atomic.Int64
}

func (r *readCounter) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	r.reads.Add(1)
	return r.Store.ReadStream(ctx, stream, dir, from, limit)
}

// TestRefusedChangeReadsNothing: an edit or delete of someone else's
// annotation, or of a deleted one, is refused from the video's read model
// before any read of the log (it used to read the video's whole later
// history first), with the same reply as ever; the author's own change
// reads one event.
func TestRefusedChangeReadsNothing(t *testing.T) {
	var counter *readCounter
	e := newEnv(t, permissive(), func(e *env) {
		e.wrapCommandStore = func(st annotations.Store) annotations.Store {
			counter = &readCounter{Store: st}
			return counter
		}
	})
	aid, aname, atok := e.user("author")
	_, _, otok := e.user("other")
	vid := e.video(aid)
	topic := "videos:" + itoa(vid)
	oldest := e.post(vid, aid, aname, "the oldest")
	gone := e.post(vid, aid, aname, "soon deleted")
	for i := range 1200 { // more than two pages of later history
		e.post(vid, aid, aname, "later "+itoa(int64(i)))
	}
	a, o := e.dial(atok), e.dial(otok)
	aj, oj := a.mustJoin(topic, map[string]any{}), o.mustJoin(topic, map[string]any{})
	if st, _ := a.request(aj, topic, "delete_annotation", map[string]any{"id": gone}).reply(); st != "ok" {
		t.Fatal("the author cannot delete")
	}
	o.await(0, 5e9, "annotation_deleted", func(f frame) bool { return f.Event == "annotation_deleted" })

	before := counter.reads.Load()
	cases := []struct {
		event   string
		payload map[string]any
		reason  string
	}{
		{"edit_annotation", map[string]any{"id": oldest, "body": "hijacked"}, "only the author may change this annotation"},
		{"delete_annotation", map[string]any{"id": oldest}, "only the author may change this annotation"},
		{"edit_annotation", map[string]any{"id": gone, "body": "zombie"}, "this annotation was deleted"},
		{"delete_annotation", map[string]any{"id": gone}, "this annotation was deleted"},
	}
	for _, c := range cases {
		r := o.request(oj, topic, c.event, c.payload)
		if st, _ := r.reply(); st != "error" || r.reason() != c.reason {
			t.Fatalf("%s %v by another user: %s, want the error %q", c.event, c.payload, r.Payload, c.reason)
		}
	}
	if n := counter.reads.Load() - before; n != 0 {
		t.Fatalf("refusals read the log %d times, want none", n)
	}
	// The author's own change reads the annotation's own event (its
	// author, from the log), not the 1,200 after it: the hub has seen
	// them.
	if st, _ := a.request(aj, topic, "edit_annotation", map[string]any{"id": oldest, "body": "mine"}).reply(); st != "ok" {
		t.Fatal("the author cannot edit")
	}
	if n := counter.reads.Load() - before; n != 1 {
		t.Fatalf("the author's edit read the log %d times, want 1", n)
	}
	if !strings.Contains(string(o.await(0, 5e9, "annotation_updated", func(f frame) bool { return f.Event == "annotation_updated" }).Payload), "mine") {
		t.Fatal("the edit was not broadcast")
	}
}
