package channels

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/personal"
)

// Replies runs the commands of replies to annotations. A reply lives in
// its video's stream, with an id from the annotations' id space; the
// rules and errors are those of Annotations.
type Replies interface {
	// ReplySeen answers annotation parentID; seen is the video revision
	// as of which the hub showed the parent live (-1: not known).
	ReplySeen(ctx context.Context, videoID, parentID, userID int64, username, body string, seen int64, meta eventstore.Metadata) (int64, error)
	EditReplySeen(ctx context.Context, videoID, id, userID int64, body string, seen int64, meta eventstore.Metadata) error
	DeleteReplySeen(ctx context.Context, videoID, id, userID, seen int64, meta eventstore.Metadata) error
}

// Refusals of replies: what the client sent, not what the store said.
var (
	errNoParent   = &clientError{"parent_id must be the id of an annotation of this video"}
	errParentGone = &clientError{"the annotation was deleted: its thread takes no new replies"}
	errNoReply    = &clientError{"id must be the id of a reply of this video"}
	errReplyGone  = &clientError{"this reply was deleted"}
	errNotAuthor  = &clientError{"only the author may change this reply"}
)

// handleReply runs new_reply {"parent_id", "body"}, edit_reply {"id",
// "body"} and delete_reply {"id"}. The reply to new_reply is {"id": N}.
func (s *subscription) handleReply(ctx context.Context, event string, payload json.RawMessage) ([]byte, error) {
	var p struct {
		ParentID json.RawMessage `json:"parent_id"`
		ID       json.RawMessage `json:"id"`
		Body     json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, refuse("payload must be an object")
	}
	var body string
	var err error
	if event != "delete_reply" {
		if body, err = bodyField(p.Body); err != nil {
			return nil, err
		}
	}
	deps, u := s.c.srv.deps.Annotations, s.c.user
	if event == "new_reply" {
		parent, ok := nonNegInt(p.ParentID)
		if !ok || parent == 0 {
			return nil, errNoParent
		}
		seen, err := s.hub.mayReply(parent)
		if err != nil {
			return nil, parentError(err)
		}
		id, err := deps.ReplySeen(ctx, s.videoID, parent, u.id, u.username, body, seen, s.c.meta())
		if err != nil {
			return nil, parentError(err)
		}
		return replyOK([]byte(`{"id":` + formatID(id) + `}`)), nil
	}
	id, ok := nonNegInt(p.ID)
	if !ok || id == 0 {
		return nil, errNoReply
	}
	seen, err := s.hub.mayChangeReply(id, u.id)
	if err == nil && event == "edit_reply" {
		err = deps.EditReplySeen(ctx, s.videoID, id, u.id, body, seen, s.c.meta())
	} else if err == nil {
		err = deps.DeleteReplySeen(ctx, s.videoID, id, u.id, seen, s.c.meta())
	}
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return nil, errNoReply
	case errors.Is(err, domain.ErrAnnotationGone):
		return nil, errReplyGone
	case errors.Is(err, domain.ErrForbidden):
		return nil, errNotAuthor
	case err != nil:
		return nil, err
	}
	return okEmpty, nil
}

// parentError words a refusal of a reply's parent.
func parentError(err error) error {
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return errNoParent
	case errors.Is(err, domain.ErrAnnotationGone):
		return errParentGone
	}
	return err
}

// mayReply refuses, from the hub's fold, a reply to parent that can never
// be allowed: a deleted annotation or a reply (both final). Otherwise it
// returns the revision as of which the fold shows the parent live, or -1
// for an id the fold does not know yet; the command checks against the
// log either way (see mayChange).
func (h *hub) mayReply(parent int64) (seen int64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.ann.Get(parent)
	if !ok {
		return -1, nil
	}
	if err := a.MayReplyTo(); err != nil {
		return -1, err
	}
	return h.rev, nil
}

// mayChangeReply is mayChange for a reply.
func (h *hub) mayChangeReply(id, userID int64) (seen int64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.ann.Get(id)
	if !ok {
		return -1, nil
	}
	if !a.IsReply() {
		return -1, domain.ErrNotFound
	}
	if err := a.CanChange(userID); err != nil {
		return -1, err
	}
	if h.isHidden(id) {
		return -1, errHidden
	}
	return h.rev, nil
}

// openNameBody opens, in place, the name and text that userID's event
// holds sealed.
func (h *hub) openNameBody(ctx context.Context, userID int64, name, body *string) (err error) {
	keys := h.srv.deps.Keys
	if *name, err = keys.Open(ctx, userID, personal.Username, *name); err != nil {
		return err
	}
	*body, err = keys.Open(ctx, userID, personal.Body, *body)
	return err
}

// foldReply is fold for the events of replies: new_reply, reply_updated
// and reply_deleted, each with rev, pushed as such so that a client that
// knows only annotations ignores them.
func (h *hub) foldReply(ctx context.Context, ev *eventstore.RecordedEvent, rev int64) (event string, payload []byte, err error) {
	keys := h.srv.deps.Keys
	switch ev.Type {
	case domain.TypeReplyPosted:
		var e domain.ReplyPosted
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return "", nil, err
		}
		if err := h.openNameBody(ctx, e.UserID, &e.Username, &e.Body); err != nil {
			return "", nil, err
		}
		a := h.ann.Replied(h.videoID, ev.Revision, e, ev.RecordedAt)
		j := itemJSONBytes(a)
		h.enc.keep(a.ID, j)
		return "new_reply", withRev(j, h.pushRev(rev)), nil
	case domain.TypeReplyEdited:
		var e domain.ReplyEdited
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return "", nil, err
		}
		if e.Body, err = keys.Open(ctx, e.UserID, personal.Body, e.Body); err != nil {
			return "", nil, err
		}
		if a := h.ann.ReplyEdited(e, ev.RecordedAt); a != nil {
			return h.edited("reply_updated", a, rev)
		}
	case domain.TypeReplyDeleted:
		var e domain.ReplyDeleted
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return "", nil, err
		}
		if a := h.ann.ReplyDeleted(e); a != nil {
			return h.deleted("reply_deleted", a, rev)
		}
	}
	return "", nil, nil
}

// replyJSON is a reply as clients receive it.
type replyJSON struct {
	ID         int64    `json:"id"`
	ParentID   int64    `json:"parent_id"`
	At         int64    `json:"at"` // the parent's moment: where the thread sits, even once the parent is deleted
	Body       string   `json:"body"`
	User       userJSON `json:"user"`
	InsertedAt string   `json:"inserted_at"`
	EditedAt   string   `json:"edited_at,omitempty"`
	Rev        int64    `json:"rev,omitempty"` // in pushes only
}

func toReplyJSON(a *domain.Annotation) replyJSON {
	j := replyJSON{
		ID: a.ID, ParentID: a.ParentID, At: a.At, Body: a.Body,
		User:       userJSON{ID: a.UserID, Username: a.Username},
		InsertedAt: a.InsertedAt.UTC().Format(timeFormat),
	}
	if !a.EditedAt.IsZero() {
		j.EditedAt = a.EditedAt.UTC().Format(timeFormat)
	}
	return j
}

// itemJSONBytes is an annotation or a reply as clients receive it,
// without rev.
func itemJSONBytes(a *domain.Annotation) []byte {
	if !a.IsReply() {
		return annotationJSONBytes(a)
	}
	b, _ := json.Marshal(toReplyJSON(a))
	return b
}
