package projections

import (
	"context"
	"time"

	"github.com/videologue/videologue/domain"
)

// auditProjection keeps every annotation event of every video in server
// time order, with who made it and from where, for the auditors' "who
// commented when". It writes blindly, one record per event, and reads
// nothing: usernames of edits and deletes are looked up in the users
// model when asked.
type auditProjection struct{}

func (auditProjection) Name() string { return NameAudit }

// Version 2 keeps an entry's time and position only in its key.
func (auditProjection) Version() uint32 { return 2 }
func (auditProjection) Prefix() byte    { return nsAudit }

func (auditProjection) Apply(w *Writer, ev *Event) error {
	switch ev.Type {
	case domain.TypeAnnotationPosted, domain.TypeAnnotationEdited, domain.TypeAnnotationDeleted:
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
	switch x := body.(type) {
	case *domain.AnnotationPosted:
		e = entryFor(vid, ev, KindPosted)
		e.UserID, e.Username, e.AnnotationID, e.At, e.Body = x.UserID, x.Username, domain.IDFromRevision(ev.Revision), x.At, x.Body
	case *domain.AnnotationEdited:
		e = entryFor(vid, ev, KindEdited)
		e.UserID, e.AnnotationID, e.Body = x.UserID, x.AnnotationID, x.Body
	case *domain.AnnotationDeleted:
		e = entryFor(vid, ev, KindDeleted)
		e.UserID, e.AnnotationID = x.UserID, x.AnnotationID
	}
	w.Put(entryKey(newKey(nsAudit), &e), encodeEntry(w.buf(), &e))
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
// f selects, until fn returns an error. Entries of edits and deletes get
// their username from the users model. It pages through the model, so
// any number of events streams in constant memory.
func (d *DB) Audit(ctx context.Context, f AuditFilter, fn func(Entry) error) error {
	lo, hi := timeRange(newKey(nsAudit), f.From, f.To)
	names := map[int64]string{}
	return d.scanRange(ctx, lo, hi, func(k, v []byte) error {
		e, err := decodeEntry(k, v)
		if err != nil {
			return err
		}
		if (f.UserID != 0 && e.UserID != f.UserID) || (f.VideoID != 0 && e.VideoID != f.VideoID) {
			return nil
		}
		if e.Username == "" && e.UserID != 0 {
			name, seen := names[e.UserID]
			if !seen {
				if u, err := d.User(ctx, e.UserID); err == nil {
					name = u.Username
				}
				if len(names) < 10000 {
					names[e.UserID] = name
				}
			}
			e.Username = name
		}
		return fn(e)
	})
}
