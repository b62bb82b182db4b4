package projections

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// Reports, hides and dismissals are entries of the audit trail with who,
// why and the text they were about; the queue holds the items with open
// reports, and a hide or a dismissal takes an item out of it.
func TestModerationInAuditTrailAndQueue(t *testing.T) {
	log := newMemLog()
	m := eventstore.Metadata{}
	v := domain.VideoStream(1)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	log.add(v, evData(t, domain.TypeAnnotationPosted, domain.AnnotationPosted{UserID: 1, Username: "carol", Body: "rude", At: 2500}, m), at(1))
	log.add(v, evData(t, domain.TypeAnnotationPosted, domain.AnnotationPosted{UserID: 1, Username: "carol", Body: "fine", At: 3000}, m), at(2))
	log.add(v, evData(t, domain.TypeAnnotationReported, domain.AnnotationReported{AnnotationID: 1, UserID: 2, Username: "dave", Reason: "insult"}, m), at(3))
	log.add(v, evData(t, domain.TypeAnnotationReported, domain.AnnotationReported{AnnotationID: 2, UserID: 2, Username: "dave", Reason: "unsure"}, m), at(4))
	log.add(v, evData(t, domain.TypeAnnotationReported, domain.AnnotationReported{AnnotationID: 1, UserID: 3, Username: "erin", Reason: "rude"}, m), at(5))
	db := openDB(t, filepath.Join(t.TempDir(), "rm"))
	defer db.Close()
	rebuild(t, db, log, Builtin(), Config{})
	queue := func() []QueueItem {
		var q []QueueItem
		if err := db.ModerationQueue(context.Background(), func(i QueueItem) error { q = append(q, i); return nil }); err != nil {
			t.Fatal(err)
		}
		return q
	}
	q := queue()
	if len(q) != 2 || q[0].AnnotationID != 1 || len(q[0].Reports) != 2 || q[0].Body != "rude" || q[0].Username != "carol" ||
		q[0].Reports[1].Username != "erin" || q[1].AnnotationID != 2 || q[1].Reports[0].Reason != "unsure" {
		t.Fatalf("queue %+v", q)
	}
	log.add(v, evData(t, domain.TypeAnnotationHidden, domain.AnnotationHidden{AnnotationID: 1, UserID: 4, Username: "mo", Reason: "insult"}, m), at(6))
	log.add(v, evData(t, domain.TypeReportsDismissed, domain.ReportsDismissed{AnnotationID: 2, UserID: 4, Username: "mo", Reason: "fine"}, m), at(7))
	catchUp(t, db, log, Builtin(), Config{})
	if q := queue(); len(q) != 0 {
		t.Fatalf("queue after hide and dismissal %+v", q)
	}
	var trail []Entry
	if err := db.Audit(context.Background(), AuditFilter{}, func(e Entry) error { trail = append(trail, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(trail) != 7 {
		t.Fatalf("trail %+v", trail)
	}
	hide := trail[5]
	if hide.Kind != KindHidden || hide.Username != "mo" || hide.Reason != "insult" || hide.Previous != "rude" || hide.At != 2500 || hide.AnnotationID != 1 || !hide.Time.Equal(at(6)) {
		t.Fatalf("hide entry %+v", hide)
	}
	if r := trail[2]; r.Kind != KindReported || r.Username != "dave" || r.Reason != "insult" || r.Previous != "rude" {
		t.Fatalf("report entry %+v", r)
	}
	if hidden, err := db.Hidden(context.Background(), 1); err != nil || len(hidden) != 1 || !hidden[1] {
		t.Fatalf("hidden items %v, %v; want only 1", hidden, err)
	}
	if d := trail[6]; d.Kind != KindDismissed || d.Reason != "fine" || d.AnnotationID != 2 {
		t.Fatalf("dismissal entry %+v", d)
	}
}

// A reported reply is in the queue with its text, author and annotation.
func TestModerationQueueHoldsReplies(t *testing.T) {
	log := newMemLog()
	m := eventstore.Metadata{}
	v := domain.VideoStream(1)
	log.add(v, evData(t, domain.TypeAnnotationPosted, domain.AnnotationPosted{UserID: 1, Username: "carol", Body: "a question", At: 2500}, m), t0)
	log.add(v, evData(t, domain.TypeReplyPosted, domain.ReplyPosted{ParentID: 1, UserID: 2, Username: "dave", Body: "a rude answer"}, m), t0.Add(time.Second))
	log.add(v, evData(t, domain.TypeAnnotationReported, domain.AnnotationReported{AnnotationID: 2, UserID: 1, Username: "carol", Reason: "rude"}, m), t0.Add(2*time.Second))
	db := openDB(t, filepath.Join(t.TempDir(), "rm"))
	defer db.Close()
	rebuild(t, db, log, Builtin(), Config{})
	var q []QueueItem
	if err := db.ModerationQueue(context.Background(), func(i QueueItem) error { q = append(q, i); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(q) != 1 || q[0].AnnotationID != 2 || q[0].ReplyTo != 1 || q[0].Body != "a rude answer" || q[0].Username != "dave" || q[0].Reports[0].Reason != "rude" {
		t.Fatalf("queue %+v", q)
	}
}

// Replies' events are entries of the audit trail: posted at their
// annotation's moment, edited and deleted with the text before, each
// naming the annotation replied to; a report of a reply carries its text.
func TestRepliesInAuditTrail(t *testing.T) {
	log := newMemLog()
	m := eventstore.Metadata{}
	v := domain.VideoStream(1)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	log.add(v, evData(t, domain.TypeAnnotationPosted, domain.AnnotationPosted{UserID: 1, Username: "carol", Body: "a question", At: 2500}, m), at(0))
	log.add(v, evData(t, domain.TypeReplyPosted, domain.ReplyPosted{ParentID: 1, UserID: 2, Username: "dave", Body: "an answer"}, m), at(1))
	log.add(v, evData(t, domain.TypeReplyEdited, domain.ReplyEdited{ReplyID: 2, UserID: 2, Body: "a better answer"}, m), at(2))
	log.add(v, evData(t, domain.TypeAnnotationReported, domain.AnnotationReported{AnnotationID: 2, UserID: 1, Username: "carol", Reason: "off topic"}, m), at(3))
	log.add(v, evData(t, domain.TypeReplyDeleted, domain.ReplyDeleted{ReplyID: 2, UserID: 2}, m), at(4))
	db := openDB(t, filepath.Join(t.TempDir(), "rm"))
	defer db.Close()
	rebuild(t, db, log, Builtin(), Config{})
	var trail []Entry
	if err := db.Audit(context.Background(), AuditFilter{}, func(e Entry) error { trail = append(trail, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(trail) != 5 {
		t.Fatalf("trail %+v", trail)
	}
	posted, edited, reported, deleted := trail[1], trail[2], trail[3], trail[4]
	if posted.Kind != KindReplyPosted || posted.AnnotationID != 2 || posted.ParentID != 1 || posted.At != 2500 || posted.Body != "an answer" || posted.Username != "dave" {
		t.Errorf("reply posted %+v", posted)
	}
	if edited.Kind != KindReplyEdited || edited.ParentID != 1 || edited.Previous != "an answer" || edited.Body != "a better answer" || edited.Username != "dave" {
		t.Errorf("reply edited %+v", edited)
	}
	if reported.Kind != KindReported || reported.AnnotationID != 2 || reported.Previous != "a better answer" || reported.At != 2500 {
		t.Errorf("reply reported %+v", reported)
	}
	if deleted.Kind != KindReplyDeleted || deleted.ParentID != 1 || deleted.Previous != "a better answer" {
		t.Errorf("reply deleted %+v", deleted)
	}
}
