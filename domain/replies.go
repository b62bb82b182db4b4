package domain

import (
	"errors"
	"time"
)

// Event types of replies. A reply lives in its video's stream, beside the
// annotations: its id is its revision + 1, as theirs is, so one id space
// and one catch-up cover both. Replies have types of their own so that a
// consumer that knows only annotations (a client of the book, an old read
// model) never takes a reply for an annotation.
const (
	TypeReplyPosted  = "reply_posted.v1"
	TypeReplyEdited  = "reply_edited.v1"
	TypeReplyDeleted = "reply_deleted.v1"
)

// ReplyPosted: a user answered annotation ParentID of the same video.
// Replies are one level deep: a parent is never a reply.
type ReplyPosted struct {
	ParentID int64  `json:"parent_id"`
	UserID   int64  `json:"user_id"`
	Username string `json:"username"`
	Body     string `json:"body"`
}

// ReplyEdited: the author changed a reply's text.
type ReplyEdited struct {
	ReplyID int64  `json:"reply_id"`
	UserID  int64  `json:"user_id"`
	Body    string `json:"body"`
}

// ReplyDeleted: the author withdrew a reply.
type ReplyDeleted struct {
	ReplyID int64 `json:"reply_id"`
	UserID  int64 `json:"user_id"`
}

// ErrReplyToReply: replies are one level deep; a reply takes none.
var ErrReplyToReply = errors.New("a reply cannot be replied to")

// IsReply reports whether a is a reply rather than a note on the video.
func (a *Annotation) IsReply() bool { return a.ParentID != 0 }

// MayReplyTo says whether a takes a new reply: it must be a live note on
// the video. A deleted one is ErrAnnotationGone (its replies stay, but the
// thread is closed) and a reply is ErrReplyToReply.
func (a *Annotation) MayReplyTo() error {
	switch {
	case a.IsReply():
		return ErrReplyToReply
	case a.Deleted:
		return ErrAnnotationGone
	}
	return nil
}

// Replied applies a ReplyPosted recorded at revision rev. The reply is
// kept in the fold with the annotations, in id order, with ParentID set;
// it takes At from its parent when the fold knows it, so that a thread
// sorts with its note.
func (s *Annotations) Replied(videoID int64, rev uint64, e ReplyPosted, at time.Time) *Annotation {
	if s.byID == nil {
		s.byID = make(map[int64]*Annotation)
	}
	id := IDFromRevision(rev)
	if a, ok := s.byID[id]; ok { // redelivery
		return a
	}
	a := &Annotation{ID: id, VideoID: videoID, ParentID: e.ParentID, UserID: e.UserID, Username: e.Username, Body: e.Body, InsertedAt: at}
	if p := s.byID[e.ParentID]; p != nil {
		a.At = p.At
	}
	s.byID[id] = a
	s.order = append(s.order, id)
	return a
}

// ReplyEdited applies a ReplyEdited. It returns nil unless ReplyID is a
// live reply.
func (s *Annotations) ReplyEdited(e ReplyEdited, at time.Time) *Annotation {
	a := s.byID[e.ReplyID]
	if a == nil || a.Deleted || !a.IsReply() {
		return nil
	}
	a.Body, a.EditedAt = e.Body, at
	return a
}

// ReplyDeleted applies a ReplyDeleted. It returns nil unless ReplyID is
// a reply.
func (s *Annotations) ReplyDeleted(e ReplyDeleted) *Annotation {
	a := s.byID[e.ReplyID]
	if a == nil || !a.IsReply() {
		return nil
	}
	a.Deleted = true
	return a
}
