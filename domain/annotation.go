package domain

import (
	"iter"
	"sort"
	"time"
)

// Annotation is the current state of a note on a video.
type Annotation struct {
	ID         int64
	VideoID    int64
	ParentID   int64 // the annotation a reply answers; 0: a note on the video
	UserID     int64
	Username   string
	Body       string
	At         int64 // milliseconds into the video
	Duration   int64 // milliseconds the note covers from At; 0: an instant
	InsertedAt time.Time
	EditedAt   time.Time // zero if never edited
	Deleted    bool
}

// Annotations folds a video's annotation events into current state. The
// zero value is an empty video. It is not safe for concurrent use.
type Annotations struct {
	byID  map[int64]*Annotation
	order []int64 // ids in posting order
}

// Posted applies an AnnotationPosted recorded at revision rev.
func (s *Annotations) Posted(videoID int64, rev uint64, e AnnotationPosted, at time.Time) *Annotation {
	if s.byID == nil {
		s.byID = make(map[int64]*Annotation)
	}
	id := IDFromRevision(rev)
	if a, ok := s.byID[id]; ok { // redelivery
		return a
	}
	a := &Annotation{ID: id, VideoID: videoID, UserID: e.UserID, Username: e.Username, Body: e.Body, At: e.At, Duration: e.Duration, InsertedAt: at}
	s.byID[id] = a
	s.order = append(s.order, id)
	return a
}

// Edited applies an AnnotationEdited. It returns nil for an unknown id.
func (s *Annotations) Edited(e AnnotationEdited, at time.Time) *Annotation {
	a := s.byID[e.AnnotationID]
	if a == nil || a.Deleted || a.IsReply() {
		return nil
	}
	a.Body, a.EditedAt = e.Body, at
	return a
}

// Deleted applies an AnnotationDeleted. It returns nil for an unknown id.
func (s *Annotations) Deleted(e AnnotationDeleted) *Annotation {
	a := s.byID[e.AnnotationID]
	if a == nil || a.IsReply() {
		return nil
	}
	a.Deleted = true
	return a
}

// Get returns the annotation with id, deleted or not.
func (s *Annotations) Get(id int64) (*Annotation, bool) {
	a, ok := s.byID[id]
	return a, ok
}

// Live returns the annotations not deleted, in posting (id) order;
// replies, when the fold holds them, are not among them.
func (s *Annotations) Live() []Annotation {
	out := make([]Annotation, 0, len(s.order))
	for _, id := range s.order {
		if a := s.byID[id]; !a.Deleted && !a.IsReply() {
			out = append(out, *a)
		}
	}
	return out
}

// LiveAfter returns the annotations not deleted whose id is greater than
// id, in id order: what a client that has seen up to id is missing.
func (s *Annotations) LiveAfter(id int64) []Annotation {
	from := sort.Search(len(s.order), func(i int) bool { return s.order[i] > id })
	out := make([]Annotation, 0, len(s.order)-from)
	for _, aid := range s.order[from:] {
		if a := s.byID[aid]; !a.Deleted && !a.IsReply() {
			out = append(out, *a)
		}
	}
	return out
}

// After yields the annotations whose id is greater than id, deleted ones
// and replies included, in id order, without copying: a caller can walk a page of a
// long history and stop, in time proportional to the page. The
// annotations yielded are the fold's own; they must not be kept or
// changed, and the fold must not change during the walk.
func (s *Annotations) After(id int64) iter.Seq[*Annotation] {
	return func(yield func(*Annotation) bool) {
		from := sort.Search(len(s.order), func(i int) bool { return s.order[i] > id })
		for _, aid := range s.order[from:] {
			if !yield(s.byID[aid]) {
				return
			}
		}
	}
}

// ByVideoTime returns the live annotations ordered by their moment in the
// video, then by id.
func (s *Annotations) ByVideoTime() []Annotation {
	out := s.Live()
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

// CanChange reports whether user may edit or delete a: only its author.
func (a *Annotation) CanChange(userID int64) error {
	if a.Deleted {
		return ErrAnnotationGone
	}
	if a.UserID != userID {
		return ErrForbidden
	}
	return nil
}
