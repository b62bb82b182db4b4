package projections

import (
	"context"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/personal"
)

// The audit projection keeps moderation too: each report, hide and
// dismissal is an entry of the trail (who, when, why, and the text it was
// about), and the open reports of each item are kept for the moderators'
// queue:
//
//	'D' 'o' video(8) annotation(8) -> the item's open reports, oldest first
//
// A hide or a dismissal closes them all; an item deleted by its author
// leaves the queue. The queue reads an item's text and author from the
// activity and replies models (DB.Item).

// Report is one open report in the moderators' queue.
type Report struct {
	UserID   int64     `json:"user_id"`
	Username string    `json:"username"`
	Reason   string    `json:"reason"`
	Time     time.Time `json:"time"`
}

// QueueItem is an item with open reports, as moderators see it.
type QueueItem struct {
	VideoID      int64    `json:"video_id"`
	AnnotationID int64    `json:"annotation_id"`
	At           int64    `json:"at"` // milliseconds into the video
	Body         string   `json:"body"`
	ReplyTo      int64    `json:"reply_to,omitempty"` // a reply's annotation
	UserID       int64    `json:"user_id"`            // the author
	Username     string   `json:"username"`
	Reports      []Report `json:"reports"`
}

func encodeReports(b []byte, rs []Report) []byte {
	e := enc(b).u(uint64(len(rs)))
	for _, r := range rs {
		e = e.i(r.UserID).s(r.Username).s(r.Reason).t(r.Time)
	}
	return e
}

func decodeReports(p []byte) ([]Report, error) {
	d := dec{p: p}
	n := d.u()
	rs := make([]Report, 0, min(n, 1024))
	for i := uint64(0); i < n && d.err == nil; i++ {
		rs = append(rs, Report{UserID: d.i(), Username: d.s(), Reason: d.s(), Time: d.t()})
	}
	return rs, d.err
}

// applyModerationAudit records a report, hide or dismissal in the trail
// and keeps the item's open reports.
func applyModerationAudit(w *Writer, ev *Event) error {
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
	case *domain.AnnotationReported:
		e = entryFor(vid, ev, KindReported)
		id, e.UserID, e.Username, e.Reason = x.AnnotationID, x.UserID, x.Username, x.Reason
	case *domain.AnnotationHidden:
		e = entryFor(vid, ev, KindHidden)
		id, e.UserID, e.Username, e.Reason = x.AnnotationID, x.UserID, x.Username, x.Reason
	case *domain.ReportsDismissed:
		e = entryFor(vid, ev, KindDismissed)
		id, e.UserID, e.Username, e.Reason = x.AnnotationID, x.UserID, x.Username, x.Reason
	default:
		return nil
	}
	e.AnnotationID = id
	n, known, err := note(w, vid, id)
	if err != nil {
		return err
	}
	if known {
		e.At, e.Previous, e.Duration = n.at, n.body, n.duration
	}
	ok2 := newKey(nsAudit, 'o').i64(vid).i64(id)
	switch e.Kind {
	case KindReported:
		{
			var rs []Report
			if v, ok, err := w.Get(ok2); err != nil {
				return err
			} else if ok {
				if rs, err = decodeReports(v); err != nil {
					return err
				}
			}
			rs = append(rs, Report{UserID: e.UserID, Username: e.Username, Reason: e.Reason, Time: e.Time})
			w.Set(ok2, encodeReports(w.buf(), rs))
		}
	case KindHidden:
		w.Delete(ok2)
		w.Set(hiddenKey(vid, id), nil)
	default:
		w.Delete(ok2)
	}
	w.Put(entryKey(newKey(nsAudit, 'e'), &e), encodeEntry(w.buf(), &e))
	return nil
}

// hiddenKey marks item id of video vid as hidden by a moderator.
func hiddenKey(vid, id int64) key { return newKey(nsAudit, 'h').i64(vid).i64(id) }

// Hidden returns the items of video vid that moderators hid.
func (d *DB) Hidden(ctx context.Context, vid int64) (map[int64]bool, error) {
	hidden := map[int64]bool{}
	err := d.scan(ctx, newKey(nsAudit, 'h').i64(vid), func(k, _ []byte) error {
		if len(k) != 2+16 {
			return errCorrupt
		}
		hidden[int64(be64(k[10:18]))] = true
		return nil
	})
	return hidden, err
}

// ModerationQueue calls fn for every item with open reports, by video
// then item, until fn returns an error. Items deleted by their authors
// meanwhile are left out.
func (d *DB) ModerationQueue(ctx context.Context, fn func(QueueItem) error) error {
	return d.scan(ctx, newKey(nsAudit, 'o'), func(k, v []byte) error {
		if len(k) != 2+16 {
			return errCorrupt
		}
		q := QueueItem{VideoID: int64(be64(k[2:10])), AnnotationID: int64(be64(k[10:18]))}
		rs, err := decodeReports(v)
		if err != nil {
			return err
		}
		for i := range rs {
			if err := d.openField(ctx, rs[i].UserID, personal.Username, &rs[i].Username); err != nil {
				return err
			}
			if err := d.openField(ctx, rs[i].UserID, personal.Body, &rs[i].Reason); err != nil {
				return err
			}
		}
		q.Reports = rs
		a, r, found, err := d.Item(ctx, q.VideoID, q.AnnotationID)
		switch {
		case err != nil:
			return err
		case !found, a != nil && a.Deleted, r != nil && r.Deleted:
			return nil
		case a != nil:
			q.At, q.Body, q.UserID, q.Username = a.At, a.Body, a.UserID, a.Username
		default:
			q.ReplyTo, q.Body, q.UserID, q.Username = r.ParentID, r.Body, r.UserID, r.Username
		}
		return fn(q)
	})
}
