package channels

// The moderators' commands, hide and dismiss, as the hub runs them for
// the socket's pushes (moderation.go) and for the HTTP API (Server.Hide,
// Server.Dismiss), and the events they write.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/personal"
)

// Moderator is a moderator acting from outside the socket (the HTTP
// API), with what the log records of their request.
type Moderator struct {
	ID       int64
	Username string
	Meta     eventstore.Metadata
}

// Hide hides item itemID of video videoID with reason, as
// hide_annotation does on the socket: the same checks against the
// video's hub, the same event, broadcast live to the video's viewers on
// every node. It refuses, before any other work, a user without the
// moderator role. A refusal is a *domain.RefusedError or a
// *domain.ValidationError.
func (s *Server) Hide(ctx context.Context, videoID, itemID int64, m Moderator, reason string) error {
	return s.moderate(ctx, videoID, m, reason, true, func(h *hub, a actor, reason string) error {
		return h.hide(ctx, a, itemID, reason)
	})
}

// Dismiss closes the open reports of item itemID of video videoID, as
// dismiss_report does on the socket; see Hide. The reason may be empty.
func (s *Server) Dismiss(ctx context.Context, videoID, itemID int64, m Moderator, reason string) error {
	return s.moderate(ctx, videoID, m, reason, false, func(h *hub, a actor, reason string) error {
		return h.dismiss(ctx, a, itemID, reason)
	})
}

func (s *Server) moderate(ctx context.Context, videoID int64, m Moderator, reason string, required bool, do func(*hub, actor, string) error) error {
	ok, err := s.deps.Users.Moderator(ctx, m.ID)
	if err != nil {
		return fmt.Errorf("check role: %w", err)
	}
	if !ok {
		return refusal(errNotModerator)
	}
	if reason, err = domain.NormalizeReason(reason, required); err != nil {
		return err
	}
	exists, err := s.deps.Videos.Exists(ctx, videoID)
	if err != nil {
		return fmt.Errorf("video %d: %w", videoID, err)
	}
	if !exists {
		return domain.ErrNotFound
	}
	h, err := s.hubs.acquire(ctx, videoID)
	if err != nil {
		return refusal(err)
	}
	defer s.hubs.release(h)
	select {
	case <-h.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	return refusal(do(h, actor{id: m.ID, username: m.Username, meta: m.Meta}, reason))
}

// actor is who makes a command and from where: a socket's user, or an
// HTTP request's (see Server.Hide).
type actor struct {
	id       int64
	username string
	meta     eventstore.Metadata
}

func (s *subscription) actor() actor {
	return actor{id: s.c.user.id, username: s.c.user.username, meta: s.c.meta()}
}

// event is an event of a's user, the client address in its metadata
// sealed with their key.
func (srv *Server) event(ctx context.Context, a actor, typ string, v any) (eventstore.EventData, error) {
	meta, err := srv.deps.Keys.SealMetadata(ctx, a.id, a.meta)
	if err != nil {
		return eventstore.EventData{}, fmt.Errorf("%s: %w", typ, err)
	}
	data, _ := json.Marshal(v)
	return eventstore.EventData{Type: typ, Data: data, Metadata: meta.Encode()}, nil
}

// moderationEvent is the event of a report, a hide or a dismissal by
// a's user, with their name and reason sealed with their key.
func (srv *Server) moderationEvent(ctx context.Context, a actor, typ string, reason string, build func(name, reason string) any) (eventstore.EventData, error) {
	keys := srv.deps.Keys
	name, err := keys.Seal(ctx, a.id, personal.Username, a.username)
	if err == nil {
		reason, err = keys.Seal(ctx, a.id, personal.Body, reason)
	}
	if err != nil {
		return eventstore.EventData{}, fmt.Errorf("%s: %w", typ, err)
	}
	return srv.event(ctx, a, typ, build(name, reason))
}

// hide hides item id for moderator a, whose role the caller checked.
func (h *hub) hide(ctx context.Context, a actor, id int64, reason string) error {
	check := func() error {
		_, err := h.itemLocked(id, true)
		if err == nil && h.mod.hidden[id] {
			return errAlreadyHidden
		}
		return err
	}
	ev, err := h.srv.moderationEvent(ctx, a, domain.TypeAnnotationHidden, reason, func(name, reason string) any {
		return domain.AnnotationHidden{AnnotationID: id, UserID: a.id, Username: name, Reason: reason}
	})
	if err != nil {
		return err
	}
	return h.appendChecked(ctx, id, check, ev)
}

// dismiss closes the open reports of item id for moderator a, whose
// role the caller checked.
func (h *hub) dismiss(ctx context.Context, a actor, id int64, reason string) error {
	check := func() error {
		if _, ok := h.ann.Get(id); !ok {
			return errItemNotFound
		}
		if h.mod.open[id] == 0 {
			return errNoOpenReports
		}
		return nil
	}
	ev, err := h.srv.moderationEvent(ctx, a, domain.TypeReportsDismissed, reason, func(name, reason string) any {
		return domain.ReportsDismissed{AnnotationID: id, UserID: a.id, Username: name, Reason: reason}
	})
	if err != nil {
		return err
	}
	return h.appendChecked(ctx, id, check, ev)
}

// refusals are what the socket's moderation refusals amount to for
// callers that branch on domain's sentinels.
var refusals = map[*clientError]error{
	errNotModerator:  domain.ErrForbidden,
	errItemNotFound:  domain.ErrNotFound,
	errAlreadyHidden: domain.ErrConflict,
	errNoOpenReports: domain.ErrConflict,
	errHidden:        domain.ErrConflict,
	errUnavailable:   eventstore.ErrUnavailable,
}

// refusal is err for a caller outside the socket: a refusal of the
// socket's becomes a *domain.RefusedError with the same reason.
func refusal(err error) error {
	var ce *clientError
	if errors.As(err, &ce) {
		if kind, ok := refusals[ce]; ok {
			return &domain.RefusedError{Err: kind, Message: ce.reason}
		}
	}
	return err
}
