package projections

import (
	"context"
	"time"
)

// State is a video as it stood at an instant.
type State struct {
	VideoID int64     `json:"video_id"`
	At      time.Time `json:"at"`
	// Annotations existing at At, with their text at At (EditedAt and
	// Edits count only the edits up to At), in video-time order.
	Annotations []Annotation `json:"annotations"`
	// Viewers watching at At, in order of joining; a later departure is
	// not shown.
	Viewers []Viewing `json:"viewers"`
}

// StateAt returns video vid as of server time t. It is a range scan of
// the annotations' version history, kept in video-time order (one key
// per event; never a fold of the log), and of the viewings that started
// by t.
func (d *DB) StateAt(ctx context.Context, vid int64, t time.Time) (State, error) {
	c, err := d.Counts(ctx, vid)
	if err != nil {
		return State{}, err
	}
	// At most every annotation ever posted exists at t: size for it once.
	st := State{VideoID: vid, At: t, Annotations: make([]Annotation, 0, min(c.Posted, 1<<20)), Viewers: []Viewing{}}
	err = d.annotationsAt(ctx, vid, t, func(a Annotation) error {
		st.Annotations = append(st.Annotations, a)
		return nil
	})
	if err != nil {
		return State{}, err
	}
	lo, hi := timeRange(newKey(nsActivity, 'v').i64(vid), time.Time{}, t.Add(time.Nanosecond))
	err = d.scanRange(ctx, lo, hi, func(_, v []byte) error {
		if s, dd := decodeViewingTimes(v); dd.err != nil || !s.WatchingAt(t) {
			return dd.err
		}
		s, err := decodeViewing(v)
		if err != nil {
			return err
		}
		s.LeftAt, s.Reason = time.Time{}, ""
		st.Viewers = append(st.Viewers, s)
		return nil
	})
	if err != nil {
		return State{}, err
	}
	return st, nil
}

// annotationsAt calls fn for each annotation of video vid that exists at
// t, with its text at t, in video-time order: one pass over the version
// history, whose keys group each annotation's versions in that order.
func (d *DB) annotationsAt(ctx context.Context, vid int64, t time.Time, fn func(Annotation) error) error {
	prefix := newKey(nsActivity, 'h').i64(vid)
	idAt := len(prefix) + 8 // after the annotation's moment
	var cur Annotation
	var curID int64 = -1
	have := false
	flush := func() error {
		if !have || cur.Deleted {
			return nil
		}
		have = false
		if err := d.openAnnotation(ctx, &cur); err != nil {
			return err
		}
		return fn(cur)
	}
	err := d.scan(ctx, prefix, func(k, raw []byte) error {
		if id := int64(be64(k[idAt:])); id != curID {
			if err := flush(); err != nil {
				return err
			}
			curID, have = id, false
		}
		v, err := decodeVersion(raw, t)
		if err != nil {
			return &Error{Op: "query", Err: err}
		}
		if v.time.After(t) {
			return nil
		}
		switch v.kind {
		case KindPosted:
			cur = Annotation{ID: curID, VideoID: vid, UserID: v.userID, Username: v.username, Body: v.body, At: v.at, Duration: v.duration, PostedAt: v.time}
			have = true
		case KindEdited:
			if have && !cur.Deleted {
				cur.Body, cur.EditedAt = v.body, v.time
				cur.Edits++
			}
		case KindDeleted:
			if have {
				cur.Deleted, cur.DeletedAt = true, v.time
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
