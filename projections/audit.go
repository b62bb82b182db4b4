package projections

import (
	"context"
	"time"

	"github.com/videologue/videologue/domain"
)

// auditProjection keeps every annotation event of every video in server
// time order, with who made it and from where, for the auditors' "who
// commented when". Each entry of an edit or a delete says what it
// changed: the annotation's moment, its text before and after, and its
// author, from a record of each annotation's current state kept here.
type auditProjection struct{}

func (auditProjection) Name() string { return NameAudit }

// Version 5: reports, hides and dismissals are entries, with the
// annotation's moment and text, and hidden items are marked (see
// moderation.go); replies' events are entries.
func (auditProjection) Version() uint32 { return 5 }
func (auditProjection) Prefix() byte    { return nsAudit }

// auditNote is what the audit keeps of an annotation to describe its
// changes.
type auditNote struct {
	at       int64
	body     string
	userID   int64
	username string
	duration int64
	parentID int64 // a reply's annotation; 0 for an annotation
}

func noteKey(vid, id int64) key { return newKey(nsAudit, 'a').i64(vid).i64(id) }

// note reads the audit's note of item id of video vid; ok is false for
// an item it does not know.
func note(w *Writer, vid, id int64) (n auditNote, ok bool, err error) {
	raw, ok, err := w.Get(noteKey(vid, id))
	if err != nil || !ok {
		return n, ok, err
	}
	d := dec{p: raw}
	n = auditNote{at: d.i(), body: d.s(), userID: d.i(), username: d.s(), duration: d.i(), parentID: d.i()}
	return n, true, d.err
}

// setNote writes the note of item id of video vid.
func setNote(w *Writer, vid, id int64, n auditNote) {
	w.Set(noteKey(vid, id), enc(w.buf()).i(n.at).s(n.body).i(n.userID).s(n.username).i(n.duration).i(n.parentID))
}

func (auditProjection) Apply(w *Writer, ev *Event) error {
	switch ev.Type {
	case domain.TypeAnnotationPosted, domain.TypeAnnotationEdited, domain.TypeAnnotationDeleted:
	case domain.TypeReplyPosted, domain.TypeReplyEdited, domain.TypeReplyDeleted:
	case domain.TypeAnnotationReported, domain.TypeAnnotationHidden, domain.TypeReportsDismissed:
		return applyModerationAudit(w, ev)
	default:
		return nil
	}
	vid, ok := ev.streamID("video")
	if !ok {
		return nil
	}
	body, err := ev.Body()
	if err != nil {
		return err
	}
	var e Entry
	var id int64
	switch x := body.(type) {
	case *domain.AnnotationPosted:
		e = entryFor(vid, ev, KindPosted)
		id = domain.IDFromRevision(ev.Revision)
		e.UserID, e.Username, e.AnnotationID, e.At, e.Duration, e.Body = x.UserID, x.Username, id, x.At, x.Duration, x.Body
		setNote(w, vid, id, auditNote{at: x.At, body: x.Body, userID: x.UserID, username: x.Username, duration: x.Duration})
	case *domain.AnnotationEdited:
		e = entryFor(vid, ev, KindEdited)
		id = x.AnnotationID
		e.UserID, e.AnnotationID, e.Body = x.UserID, x.AnnotationID, x.Body
	case *domain.AnnotationDeleted:
		e = entryFor(vid, ev, KindDeleted)
		id = x.AnnotationID
		e.UserID, e.AnnotationID = x.UserID, x.AnnotationID
	case *domain.ReplyPosted:
		// A reply is kept as a note at its parent's moment, with the
		// parent's id after the note's fields.
		e = entryFor(vid, ev, KindReplyPosted)
		id = domain.IDFromRevision(ev.Revision)
		e.UserID, e.Username, e.AnnotationID, e.ParentID, e.Body = x.UserID, x.Username, id, x.ParentID, x.Body
		parent, _, err := note(w, vid, x.ParentID)
		if err != nil {
			return err
		}
		e.At = parent.at
		setNote(w, vid, id, auditNote{at: e.At, body: x.Body, userID: x.UserID, username: x.Username, parentID: x.ParentID})
	case *domain.ReplyEdited:
		e = entryFor(vid, ev, KindReplyEdited)
		id = x.ReplyID
		e.UserID, e.AnnotationID, e.Body = x.UserID, x.ReplyID, x.Body
	case *domain.ReplyDeleted:
		e = entryFor(vid, ev, KindReplyDeleted)
		id = x.ReplyID
		e.UserID, e.AnnotationID = x.UserID, x.ReplyID
	}
	if e.Kind != KindPosted && e.Kind != KindReplyPosted {
		n, ok, err := note(w, vid, id)
		if err != nil {
			return err
		}
		if ok {
			e.At, e.Duration, e.Previous, e.ParentID = n.at, n.duration, n.body, n.parentID
			if n.userID == e.UserID {
				e.Username = n.username
			}
			if e.Kind == KindEdited || e.Kind == KindReplyEdited {
				n.body = e.Body
				setNote(w, vid, id, n)
			} else {
				w.Delete(noteKey(vid, id))
			}
		}
	}
	w.Put(entryKey(newKey(nsAudit, 'e'), &e), encodeEntry(w.buf(), &e))
	return nil
}

// AuditFilter selects annotation events for auditors. Zero fields select
// everything.
type AuditFilter struct {
	UserID   int64
	VideoID  int64
	From, To time.Time // server time, From inclusive, To exclusive
}

// Audit calls fn, in server time order, for every annotation event that
// f selects, until fn returns an error. It pages through the model, so
// any number of events streams in constant memory.
func (d *DB) Audit(ctx context.Context, f AuditFilter, fn func(Entry) error) error {
	lo, hi := timeRange(newKey(nsAudit, 'e'), f.From, f.To)
	return d.scanRange(ctx, lo, hi, func(k, v []byte) error {
		e, err := decodeEntry(k, v)
		if err != nil {
			return err
		}
		if (f.UserID != 0 && e.UserID != f.UserID) || (f.VideoID != 0 && e.VideoID != f.VideoID) {
			return nil
		}
		if err := d.openEntry(ctx, &e); err != nil {
			return err
		}
		return fn(e)
	})
}
