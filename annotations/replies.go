package annotations

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// Reply answers annotation parentID of videoID on behalf of the user and
// returns the reply's id once the event is durable. The parent must be a
// live annotation of that video: an unknown id (or one of another video,
// since ids are per video) is domain.ErrNotFound, a deleted one
// domain.ErrAnnotationGone, a reply domain.ErrReplyToReply. The check and
// the append are one step, as an edit's are, so a reply never lands on a
// parent deleted in between.
func (s *Service) Reply(ctx context.Context, videoID, parentID, userID int64, username, body string, meta eventstore.Metadata) (int64, error) {
	return s.ReplySeen(ctx, videoID, parentID, userID, username, body, -1, meta)
}

// ReplySeen is Reply for a caller whose read model showed the parent
// live as of revision seen of the video's stream (-1: not seen), as in
// EditSeen.
func (s *Service) ReplySeen(ctx context.Context, videoID, parentID, userID int64, username, body string, seen int64, meta eventstore.Metadata) (int64, error) {
	body, err := domain.NormalizeBody(body)
	if err != nil {
		return 0, err
	}
	if err := s.seal(ctx, userID, &username, &body, &meta); err != nil {
		return 0, fmt.Errorf("post reply: %w", err)
	}
	data, _ := json.Marshal(domain.ReplyPosted{ParentID: parentID, UserID: userID, Username: username, Body: body})
	ev := eventstore.EventData{Type: domain.TypeReplyPosted, Data: data, Metadata: meta.Encode()}
	rev, err := s.change(ctx, videoID, parentID, seen, ev, (*domain.Annotation).MayReplyTo)
	if err != nil {
		return 0, fmt.Errorf("post reply: %w", err)
	}
	return domain.IDFromRevision(rev), nil
}

// EditReplySeen replaces the text of reply id of videoID, on the terms
// of EditSeen: only its author may, and an id that is not a reply's is
// domain.ErrNotFound.
func (s *Service) EditReplySeen(ctx context.Context, videoID, id, userID int64, body string, seen int64, meta eventstore.Metadata) error {
	body, err := domain.NormalizeBody(body)
	if err != nil {
		return err
	}
	if err := s.seal(ctx, userID, nil, &body, &meta); err != nil {
		return fmt.Errorf("edit reply: %w", err)
	}
	data, _ := json.Marshal(domain.ReplyEdited{ReplyID: id, UserID: userID, Body: body})
	ev := eventstore.EventData{Type: domain.TypeReplyEdited, Data: data, Metadata: meta.Encode()}
	if _, err := s.change(ctx, videoID, id, seen, ev, authorOf(userID, true)); err != nil {
		return fmt.Errorf("edit reply: %w", err)
	}
	return nil
}

// DeleteReplySeen withdraws reply id of videoID, on the terms of
// EditReplySeen.
func (s *Service) DeleteReplySeen(ctx context.Context, videoID, id, userID, seen int64, meta eventstore.Metadata) error {
	if err := s.seal(ctx, userID, nil, nil, &meta); err != nil {
		return fmt.Errorf("delete reply: %w", err)
	}
	data, _ := json.Marshal(domain.ReplyDeleted{ReplyID: id, UserID: userID})
	ev := eventstore.EventData{Type: domain.TypeReplyDeleted, Data: data, Metadata: meta.Encode()}
	if _, err := s.change(ctx, videoID, id, seen, ev, authorOf(userID, true)); err != nil {
		return fmt.Errorf("delete reply: %w", err)
	}
	return nil
}

// applyReply folds ev into f when it is a reply's event: the post of the
// reply f follows, or a change of it.
func (f *folder) applyReply(ev *eventstore.RecordedEvent, first bool) error {
	switch ev.Type {
	case domain.TypeReplyPosted:
		if !first {
			return nil
		}
		var e domain.ReplyPosted
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return fmt.Errorf("revision %d: %w", ev.Revision, err)
		}
		f.a = f.s.Replied(0, ev.Revision, e, ev.RecordedAt)
	case domain.TypeReplyEdited:
		var e domain.ReplyEdited
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return fmt.Errorf("revision %d: %w", ev.Revision, err)
		}
		if e.ReplyID == f.id {
			f.s.ReplyEdited(e, ev.RecordedAt)
		}
	case domain.TypeReplyDeleted:
		var e domain.ReplyDeleted
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return fmt.Errorf("revision %d: %w", ev.Revision, err)
		}
		if e.ReplyID == f.id {
			f.s.ReplyDeleted(e)
		}
	}
	return nil
}
