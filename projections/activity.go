package projections

import (
	"github.com/videologue/videologue/domain"
)

// activityProjection keeps, per video: its annotations with their current
// text (by id and in video-time order) and every version of each (for
// as-of-T), its viewings, its timeline of events, and its
// counts.
type activityProjection struct{}

func (activityProjection) Name() string { return NameActivity }

// Version 4: viewings are kept under 'v'; a viewing's connection_id is
// its socket's id, its presence ref a field of its own.
func (activityProjection) Version() uint32 { return 4 }
func (activityProjection) Prefix() byte    { return nsActivity }

// videoOf returns the video of an event the projection applies.
func (activityProjection) videoOf(ev *Event) (int64, bool) {
	switch ev.Type {
	case domain.TypeAnnotationPosted, domain.TypeAnnotationEdited, domain.TypeAnnotationDeleted:
		return ev.streamID("video")
	case domain.TypeViewerJoined, domain.TypeViewerLeft:
		return ev.streamID("viewers")
	}
	return 0, false
}

func (p activityProjection) Apply(w *Writer, ev *Event) error {
	vid, ok := p.videoOf(ev)
	if !ok {
		return nil
	}
	body, err := ev.Body()
	if err != nil {
		return err
	}
	switch x := body.(type) {
	case *domain.AnnotationPosted:
		return p.posted(w, vid, ev, x)
	case *domain.AnnotationEdited:
		return p.changed(w, vid, ev, KindEdited, x.AnnotationID, x.UserID, x.Body)
	case *domain.AnnotationDeleted:
		return p.changed(w, vid, ev, KindDeleted, x.AnnotationID, x.UserID, "")
	case *domain.ViewerJoined:
		return p.joined(w, vid, ev, x)
	case *domain.ViewerLeft:
		return p.left(w, vid, ev, x)
	}
	return nil
}

// entryFor starts the timeline entry of ev.
func entryFor(vid int64, ev *Event, kind Kind) Entry {
	m := ev.Metadata()
	return Entry{Position: ev.Position, Time: ev.RecordedAt, Kind: kind, VideoID: vid, ConnectionID: m.ConnectionID, ClientAddr: m.ClientAddr}
}

func (p activityProjection) posted(w *Writer, vid int64, ev *Event, x *domain.AnnotationPosted) error {
	e := entryFor(vid, ev, KindPosted)
	a := Annotation{ID: domain.IDFromRevision(ev.Revision), VideoID: vid, UserID: x.UserID, Username: x.Username, Body: x.Body, At: x.At, Duration: x.Duration, PostedAt: ev.RecordedAt}
	v := version{kind: KindPosted, time: ev.RecordedAt, body: x.Body, userID: x.UserID, username: x.Username, at: x.At, duration: x.Duration}
	e.UserID, e.Username, e.AnnotationID, e.At, e.Duration, e.Body = x.UserID, x.Username, a.ID, x.At, x.Duration, x.Body
	return p.store(w, vid, ev, &e, &a, &v)
}

// changed applies an edit (body is the new text) or a delete.
func (p activityProjection) changed(w *Writer, vid int64, ev *Event, kind Kind, id, userID int64, body string) error {
	e := entryFor(vid, ev, kind)
	e.UserID, e.AnnotationID = userID, id
	raw, ok, err := w.Get(newKey(nsActivity, 'a').i64(vid).i64(id))
	if err != nil {
		return err
	}
	var a Annotation
	if ok {
		if a, err = decodeAnnotation(raw); err != nil {
			return err
		}
	}
	e.Username, e.At, e.Duration, e.Previous = a.Username, a.At, a.Duration, a.Body
	if !ok || a.Deleted {
		// The commands refuse this; should the log hold it anyway, it is
		// history but changes nothing.
		return p.record(w, vid, &e, countsDelta{})
	}
	if kind == KindEdited {
		e.Body = body
		a.Body, a.EditedAt = body, ev.RecordedAt
		a.Edits++
	} else {
		a.Deleted, a.DeletedAt = true, ev.RecordedAt
	}
	v := version{kind: kind, time: ev.RecordedAt, body: e.Body}
	return p.store(w, vid, ev, &e, &a, &v)
}

// store writes an annotation's new state and version, and its event.
func (p activityProjection) store(w *Writer, vid int64, ev *Event, e *Entry, a *Annotation, v *version) error {
	w.Set(newKey(nsActivity, 'a').i64(vid).i64(a.ID), encodeAnnotation(w.buf(), a))
	w.Put(newKey(nsActivity, 'h').i64(vid).i64(a.At).i64(a.ID).u64(ev.Position), encodeVersion(w.buf(), v))
	var d countsDelta
	switch e.Kind {
	case KindPosted:
		d.posted, d.live = 1, 1
	case KindEdited:
		d.edited = 1
	case KindDeleted:
		d.deleted, d.live = 1, -1
	}
	return p.record(w, vid, e, d)
}

func (p activityProjection) joined(w *Writer, vid int64, ev *Event, x *domain.ViewerJoined) error {
	e := entryFor(vid, ev, KindJoined)
	e.UserID, e.Username, e.Device, e.PresenceRef = x.UserID, x.Username, x.Device, x.ConnectionID
	ck := newKey(nsActivity, 'k').i64(vid).str(viewingRef(ev, x.ConnectionID))
	_, _, open, err := p.viewing(w, vid, ck)
	if err != nil {
		return err
	}
	if open { // a second join of an open viewing
		return p.record(w, vid, &e, countsDelta{})
	}
	suffix := newKey().t(ev.RecordedAt).u64(ev.Position)
	s := Viewing{VideoID: vid, UserID: x.UserID, Username: x.Username, ConnectionID: e.ConnectionID, PresenceRef: x.ConnectionID,
		Device: x.Device, Node: x.Node, JoinedAt: ev.RecordedAt}
	w.Set(append(newKey(nsActivity, 'v').i64(vid), suffix...), encodeViewing(w.buf(), &s))
	w.Set(ck, suffix)
	return p.record(w, vid, &e, countsDelta{joins: 1, watching: 1})
}

func (p activityProjection) left(w *Writer, vid int64, ev *Event, x *domain.ViewerLeft) error {
	e := entryFor(vid, ev, KindLeft)
	e.UserID, e.Reason, e.PresenceRef = x.UserID, x.Reason, x.ConnectionID
	ck := newKey(nsActivity, 'k').i64(vid).str(viewingRef(ev, x.ConnectionID))
	sk, s, open, err := p.viewing(w, vid, ck)
	if err != nil {
		return err
	}
	if !open { // unknown, or already closed: a second leave changes nothing
		return p.record(w, vid, &e, countsDelta{})
	}
	// The viewing's socket: a departure recorded by another node (its
	// sweep) carries none.
	e.Username, e.Device, e.ConnectionID = s.Username, s.Device, s.ConnectionID
	s.LeftAt, s.Reason = ev.RecordedAt, x.Reason
	w.Set(sk, encodeViewing(w.buf(), &s))
	return p.record(w, vid, &e, countsDelta{leaves: 1, watching: -1})
}

// viewingRef is what identifies a viewing among its video's: its
// presence ref, unique per tracked join, or the socket for an event that
// has none.
func viewingRef(ev *Event, ref string) string {
	if ref != "" {
		return ref
	}
	return ev.Metadata().ConnectionID
}

// viewing finds the viewing of connection key ck: its key, the viewing,
// and whether it is open.
func (p activityProjection) viewing(w *Writer, vid int64, ck []byte) ([]byte, Viewing, bool, error) {
	suffix, ok, err := w.Get(ck)
	if err != nil || !ok {
		return nil, Viewing{}, false, err
	}
	sk := append(newKey(nsActivity, 'v').i64(vid), suffix...)
	raw, ok, err := w.Get(sk)
	if err != nil || !ok {
		return nil, Viewing{}, false, err
	}
	s, err := decodeViewing(raw)
	if err != nil {
		return nil, Viewing{}, false, err
	}
	return sk, s, s.Open(), nil
}

// countsDelta is what an event changes in its video's counts, besides
// the events and their times.
type countsDelta struct {
	posted, edited, deleted, live, joins, leaves, watching int64
}

// record adds e to the video's timeline and updates its counts.
func (p activityProjection) record(w *Writer, vid int64, e *Entry, d countsDelta) error {
	w.Put(entryKey(newKey(nsActivity, 't').i64(vid), e), encodeEntry(w.buf(), e))
	ck := newKey(nsActivity, 'c').i64(vid)
	raw, ok, err := w.Get(ck)
	if err != nil {
		return err
	}
	c := Counts{VideoID: vid}
	if ok {
		if c, err = decodeCounts(raw); err != nil {
			return err
		}
	}
	c.Events++
	if c.FirstAt.IsZero() {
		c.FirstAt = e.Time
	}
	c.LastAt = e.Time
	c.Posted += d.posted
	c.Edited += d.edited
	c.Deleted += d.deleted
	c.Live += d.live
	c.Joins += d.joins
	c.Leaves += d.leaves
	c.Watching += d.watching
	if d.watching > 0 && c.Watching > c.Peak { // a join
		c.Peak, c.PeakAt = c.Watching, e.Time
	}
	w.Set(ck, encodeCounts(w.buf(), &c))
	return nil
}
