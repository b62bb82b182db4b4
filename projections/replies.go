package projections

import (
	"context"
	"errors"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/videologue/videologue/domain"
)

// Reply is the current state of a reply to an annotation.
type Reply struct {
	ID        int64     `json:"id"`
	VideoID   int64     `json:"video_id"`
	ParentID  int64     `json:"parent_id"`
	UserID    int64     `json:"user_id"`
	Username  string    `json:"username"`
	Body      string    `json:"body"`
	PostedAt  time.Time `json:"posted_at"`
	EditedAt  time.Time `json:"edited_at,omitzero"`
	DeletedAt time.Time `json:"deleted_at,omitzero"`
	Deleted   bool      `json:"deleted,omitempty"`
}

func encodeReply(b []byte, r *Reply) []byte {
	return enc(b).i(r.ID).i(r.VideoID).i(r.ParentID).i(r.UserID).s(r.Username).s(r.Body).
		t(r.PostedAt).t(r.EditedAt).t(r.DeletedAt).b(r.Deleted)
}

func decodeReply(p []byte) (Reply, error) {
	d := dec{p: p}
	r := Reply{ID: d.i(), VideoID: d.i(), ParentID: d.i(), UserID: d.i(), Username: d.s(), Body: d.s(),
		PostedAt: d.t(), EditedAt: d.t(), DeletedAt: d.t(), Deleted: d.b()}
	return r, d.err
}

// nsReplies holds the replies projection's records:
//
//	'T' 'r' video(8) reply(8) -> the reply as it is now
//	'T' 'c' video(8)          -> how many of the video's replies are live
const nsReplies = 'T'

// NameReplies names the replies projection.
const NameReplies = "replies"

// repliesProjection keeps each video's replies as they are now, in id
// order, and how many are live: what the W3C export pages through. It is
// a model of its own, beside the activity's annotations, so that the
// annotations' records and their consumers stay as they are.
type repliesProjection struct{}

func (repliesProjection) Name() string    { return NameReplies }
func (repliesProjection) Version() uint32 { return 1 }
func (repliesProjection) Prefix() byte    { return nsReplies }

func (p repliesProjection) Apply(w *Writer, ev *Event) error {
	vid, ok := ev.streamID("video")
	if !ok {
		return nil
	}
	body, err := ev.Body()
	if err != nil {
		return err
	}
	var id int64
	switch x := body.(type) {
	case *domain.ReplyPosted:
		r := Reply{ID: domain.IDFromRevision(ev.Revision), VideoID: vid, ParentID: x.ParentID, UserID: x.UserID, Username: x.Username, Body: x.Body, PostedAt: ev.RecordedAt}
		w.Set(newKey(nsReplies, 'r').i64(vid).i64(r.ID), encodeReply(w.buf(), &r))
		return p.count(w, vid, 1)
	case *domain.ReplyEdited:
		id = x.ReplyID
	case *domain.ReplyDeleted:
		id = x.ReplyID
	default:
		return nil
	}
	k := newKey(nsReplies, 'r').i64(vid).i64(id)
	raw, ok, err := w.Get(k)
	if err != nil || !ok {
		return err // a change of an unknown reply, which the commands refuse, changes nothing
	}
	r, err := decodeReply(raw)
	if err != nil || r.Deleted {
		return err
	}
	delta := int64(0)
	if x, edited := body.(*domain.ReplyEdited); edited {
		r.Body, r.EditedAt = x.Body, ev.RecordedAt
	} else {
		r.Deleted, r.DeletedAt, delta = true, ev.RecordedAt, -1
	}
	w.Set(k, encodeReply(w.buf(), &r))
	return p.count(w, vid, delta)
}

func (repliesProjection) count(w *Writer, vid, delta int64) error {
	if delta == 0 {
		return nil
	}
	k := newKey(nsReplies, 'c').i64(vid)
	raw, ok, err := w.Get(k)
	if err != nil {
		return err
	}
	var n int64
	if ok {
		d := dec{p: raw}
		if n = d.i(); d.err != nil {
			return d.err
		}
	}
	w.Set(k, enc(w.buf()).i(n+delta))
	return nil
}

// Replies calls fn for each live reply of video vid, in id order (the
// order they were posted), until fn returns an error. It streams.
func (d *DB) Replies(ctx context.Context, vid int64, fn func(Reply) error) error {
	return d.scan(ctx, newKey(nsReplies, 'r').i64(vid), func(_, v []byte) error {
		r, err := decodeReply(v)
		if err != nil || r.Deleted {
			return err
		}
		if err := d.openReply(ctx, &r); err != nil {
			return err
		}
		return fn(r)
	})
}

// LiveReplies returns how many of video vid's replies are live.
func (d *DB) LiveReplies(ctx context.Context, vid int64) (int64, error) {
	v, closer, err := d.db.Get(newKey(nsReplies, 'c').i64(vid))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, &Error{Op: "replies", Err: err}
	}
	defer closer.Close()
	dd := dec{p: v}
	n := dd.i()
	return n, dd.err
}

// Item returns annotation or reply id of video vid as it is now, deleted
// or not: one of the two is set, or neither (found false) for an id that
// is neither's.
func (d *DB) Item(ctx context.Context, vid, id int64) (a *Annotation, r *Reply, found bool, err error) {
	get := func(k []byte) ([]byte, bool, error) {
		v, closer, err := d.db.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, &Error{Op: "item", Err: err}
		}
		defer closer.Close()
		return append([]byte(nil), v...), true, nil
	}
	if v, ok, err := get(newKey(nsActivity, 'a').i64(vid).i64(id)); err != nil || ok {
		if err != nil {
			return nil, nil, false, err
		}
		x, err := decodeAnnotation(v)
		if err == nil {
			err = d.openAnnotation(ctx, &x)
		}
		return &x, nil, err == nil, err
	}
	v, ok, err := get(newKey(nsReplies, 'r').i64(vid).i64(id))
	if err != nil || !ok {
		return nil, nil, false, err
	}
	x, err := decodeReply(v)
	if err == nil {
		err = d.openReply(ctx, &x)
	}
	return nil, &x, err == nil, err
}
