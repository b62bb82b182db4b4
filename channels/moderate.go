package channels

import (
	"context"
	"errors"
	"fmt"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
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
