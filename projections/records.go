package projections

import (
	"encoding/binary"
	"time"
)

// Kind names what happened in an Entry. The strings are stable: they
// appear in exports.
type Kind string

const (
	KindPosted  Kind = "annotation_posted"
	KindEdited  Kind = "annotation_edited"
	KindDeleted Kind = "annotation_deleted"
	KindJoined  Kind = "viewer_joined"
	KindLeft    Kind = "viewer_left"
	// Moderation, in the audit trail (see moderation.go).
	KindReported  Kind = "annotation_reported"
	KindHidden    Kind = "annotation_hidden"
	KindDismissed Kind = "reports_dismissed"
	// Replies, in the audit trail: AnnotationID is the reply's id,
	// ParentID the annotation it answers.
	KindReplyPosted  Kind = "reply_posted"
	KindReplyEdited  Kind = "reply_edited"
	KindReplyDeleted Kind = "reply_deleted"
)

var kindCodes = [...]Kind{1: KindPosted, 2: KindEdited, 3: KindDeleted, 4: KindJoined, 5: KindLeft, 6: KindReported, 7: KindHidden, 8: KindDismissed,
	9: KindReplyPosted, 10: KindReplyEdited, 11: KindReplyDeleted}

func kindCode(k Kind) uint64 {
	for i, x := range kindCodes {
		if x == k && i > 0 {
			return uint64(i)
		}
	}
	return 0
}

func kindOf(code uint64) Kind {
	if code < uint64(len(kindCodes)) {
		return kindCodes[code]
	}
	return ""
}

// IsAnnotation reports whether k is an event about an annotation or a
// reply: its own, or a moderator's or a reporter's.
func (k Kind) IsAnnotation() bool {
	return k == KindPosted || k == KindEdited || k == KindDeleted || k.IsModeration() || k.IsReply()
}

// IsReply reports whether k is a reply posted, edited or deleted.
func (k Kind) IsReply() bool {
	return k == KindReplyPosted || k == KindReplyEdited || k == KindReplyDeleted
}

// IsModeration reports whether k is a report, a hide or a dismissal.
func (k Kind) IsModeration() bool { return k == KindReported || k == KindHidden || k == KindDismissed }

// Entry is one event of a video's history as analysts and auditors see
// it: the server time, who, and what, with what the log's metadata
// recorded of where it came from.
type Entry struct {
	Position     uint64
	Time         time.Time // server time (RecordedAt)
	Kind         Kind
	VideoID      int64
	UserID       int64
	Username     string // as the event or the annotation recorded it
	AnnotationID int64  // annotation events
	At           int64  // annotation events: milliseconds into the video
	Body         string // posted, edited: the text from then on
	Previous     string // edited, deleted: the text before
	ConnectionID string // the socket the event came from (its metadata), or, for a viewer_left without one, the socket of the viewing
	ClientAddr   string // from metadata
	Device       string // viewer_joined
	Reason       string // viewer_left; moderation: the reporter's or moderator's reason
	PresenceRef  string // viewer events: the presence ref of the viewing
	Duration     int64  // annotation events: milliseconds a range covers from At; 0: an instant
	ParentID     int64  // reply events: the annotation replied to
}

// An entry's key ends with its time and position (entryKey): its value
// holds the rest.
func encodeEntry(b []byte, e *Entry) []byte {
	return enc(b).u(kindCode(e.Kind)).i(e.VideoID).i(e.UserID).s(e.Username).
		i(e.AnnotationID).i(e.At).s(e.Body).s(e.Previous).s(e.ConnectionID).s(e.ClientAddr).s(e.Device).s(e.Reason).s(e.PresenceRef).i(e.Duration).i(e.ParentID)
}

// entryKey is prefix followed by e's time and position.
func entryKey(prefix key, e *Entry) key { return prefix.t(e.Time).u64(e.Position) }

// decodeEntry decodes the entry of key k and value p.
func decodeEntry(k, p []byte) (Entry, error) {
	if len(k) < 16 {
		return Entry{}, errCorrupt
	}
	d := dec{p: p}
	e := Entry{Position: be64(k[len(k)-8:]), Time: keyTime(be64(k[len(k)-16:])), Kind: kindOf(d.u()), VideoID: d.i(), UserID: d.i(), Username: d.s(),
		AnnotationID: d.i(), At: d.i(), Body: d.s(), Previous: d.s(), ConnectionID: d.s(), ClientAddr: d.s(), Device: d.s(), Reason: d.s(), PresenceRef: d.s(), Duration: d.i()}
	e.ParentID = d.i() // absent from entries of activity format 4 and before: 0
	return e, d.err
}

// Annotation is an annotation as the activity model holds it now.
type Annotation struct {
	ID        int64     `json:"id"`
	VideoID   int64     `json:"video_id"`
	UserID    int64     `json:"user_id"`
	Username  string    `json:"username"`
	Body      string    `json:"body"`
	At        int64     `json:"at"` // milliseconds into the video
	PostedAt  time.Time `json:"posted_at"`
	EditedAt  time.Time `json:"edited_at,omitzero"`
	DeletedAt time.Time `json:"deleted_at,omitzero"`
	Deleted   bool      `json:"deleted,omitempty"`
	Edits     int64     `json:"edits,omitempty"`
	Duration  int64     `json:"duration,omitempty"` // milliseconds a range covers from At; 0: an instant
}

func encodeAnnotation(b []byte, a *Annotation) []byte {
	return enc(b).i(a.ID).i(a.VideoID).i(a.UserID).s(a.Username).s(a.Body).i(a.At).
		t(a.PostedAt).t(a.EditedAt).t(a.DeletedAt).b(a.Deleted).i(a.Edits).i(a.Duration)
}

func decodeAnnotation(p []byte) (Annotation, error) {
	d := dec{p: p}
	a := Annotation{ID: d.i(), VideoID: d.i(), UserID: d.i(), Username: d.s(), Body: d.s(), At: d.i(),
		PostedAt: d.t(), EditedAt: d.t(), DeletedAt: d.t(), Deleted: d.b(), Edits: d.i(), Duration: d.i()}
	return a, d.err
}

// version is one step of an annotation's history: the key holds its
// position; posted versions carry what never changes.
type version struct {
	kind     Kind
	time     time.Time
	body     string
	userID   int64 // posted only
	username string
	at       int64
	duration int64 // posted only: a range's length
}

func encodeVersion(b []byte, v *version) []byte {
	e := enc(b).u(kindCode(v.kind)).t(v.time).s(v.body)
	if v.kind == KindPosted {
		e = e.i(v.userID).s(v.username).i(v.at).i(v.duration)
	}
	return e
}

// decodeVersion decodes a version recorded at or before t; later ones
// come back with only kind and time, their strings left undecoded.
func decodeVersion(p []byte, t time.Time) (version, error) {
	d := dec{p: p}
	v := version{kind: kindOf(d.u()), time: d.t()}
	if v.time.After(t) {
		return v, d.err
	}
	v.body = d.s()
	if v.kind == KindPosted {
		v.userID, v.username, v.at, v.duration = d.i(), d.s(), d.i(), d.i()
	}
	return v, d.err
}

// Viewing is a connection of a user watching a video, from join to leave.
type Viewing struct {
	VideoID      int64     `json:"video_id"`
	UserID       int64     `json:"user_id"`
	Username     string    `json:"username"`
	ConnectionID string    `json:"connection_id"` // the socket
	PresenceRef  string    `json:"presence_ref,omitempty"`
	Device       string    `json:"device,omitempty"`
	Node         string    `json:"node,omitempty"`
	JoinedAt     time.Time `json:"joined_at"`
	LeftAt       time.Time `json:"left_at,omitzero"` // zero while watching
	Reason       string    `json:"reason,omitempty"`
}

// Open reports whether the viewing goes on.
func (s Viewing) Open() bool { return s.LeftAt.IsZero() }

// Length is how long the viewing lasted, or has lasted by now.
func (s Viewing) Length(now time.Time) time.Duration {
	end := s.LeftAt
	if end.IsZero() {
		end = now
	}
	if end.Before(s.JoinedAt) {
		return 0
	}
	return end.Sub(s.JoinedAt)
}

// WatchingAt reports whether the viewing was on at t.
func (s Viewing) WatchingAt(t time.Time) bool {
	return !s.JoinedAt.After(t) && (s.LeftAt.IsZero() || s.LeftAt.After(t))
}

// A viewing's times come first, so that a scan for the viewings
// watching at an instant decodes the rest only of those.
func encodeViewing(b []byte, s *Viewing) []byte {
	return enc(b).t(s.JoinedAt).t(s.LeftAt).i(s.VideoID).i(s.UserID).s(s.Username).s(s.ConnectionID).s(s.Device).s(s.Node).s(s.Reason).s(s.PresenceRef)
}

func decodeViewing(p []byte) (Viewing, error) {
	s, d := decodeViewingTimes(p)
	s.VideoID, s.UserID, s.Username, s.ConnectionID, s.Device, s.Node, s.Reason, s.PresenceRef = d.i(), d.i(), d.s(), d.s(), d.s(), d.s(), d.s(), d.s()
	return s, d.err
}

// decodeViewingTimes decodes only when a viewing began and ended; d
// continues with the rest.
func decodeViewingTimes(p []byte) (Viewing, dec) {
	d := dec{p: p}
	return Viewing{JoinedAt: d.t(), LeftAt: d.t()}, d
}

// Counts are a video's running totals.
type Counts struct {
	VideoID  int64     `json:"video_id"`
	Events   int64     `json:"events"`
	Posted   int64     `json:"annotations_posted"`
	Edited   int64     `json:"annotations_edited"`
	Deleted  int64     `json:"annotations_deleted"`
	Live     int64     `json:"annotations"` // posted and not deleted
	Joins    int64     `json:"viewer_joins"`
	Leaves   int64     `json:"viewer_leaves"`
	Watching int64     `json:"watching"` // connections watching now
	Peak     int64     `json:"peak_watching"`
	PeakAt   time.Time `json:"peak_at,omitzero"`
	FirstAt  time.Time `json:"first_event_at,omitzero"`
	LastAt   time.Time `json:"last_event_at,omitzero"`
}

// Counts are rewritten at every event of their video, so they are kept
// in fixed-width fields (thirteen big-endian words, times as timeKey), read
// and written without varints.
const countsSize = 13 * 8

func encodeCounts(b []byte, c *Counts) []byte {
	for _, v := range [...]uint64{uint64(c.VideoID), uint64(c.Events), uint64(c.Posted), uint64(c.Edited), uint64(c.Deleted),
		uint64(c.Live), uint64(c.Joins), uint64(c.Leaves), uint64(c.Watching), uint64(c.Peak),
		timeKey(c.PeakAt), timeKey(c.FirstAt), timeKey(c.LastAt)} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

func decodeCounts(p []byte) (Counts, error) {
	if len(p) != countsSize {
		return Counts{}, errCorrupt
	}
	w := func(i int) int64 { return int64(binary.BigEndian.Uint64(p[8*i:])) }
	return Counts{VideoID: w(0), Events: w(1), Posted: w(2), Edited: w(3), Deleted: w(4), Live: w(5), Joins: w(6),
		Leaves: w(7), Watching: w(8), Peak: w(9), PeakAt: keyTime(uint64(w(10))), FirstAt: keyTime(uint64(w(11))),
		LastAt: keyTime(uint64(w(12)))}, nil
}
