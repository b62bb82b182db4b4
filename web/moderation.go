package web

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/projections"
)

// moderationQueue is the read model of open reports (a *projections.DB).
type moderationQueue interface {
	ModerationQueue(ctx context.Context, fn func(projections.QueueItem) error) error
}

// maxQueueItems bounds the queue a page or a response lists: the oldest
// items by video, the rest once these are handled.
const maxQueueItems = 500

// itemModerator hides items and dismisses their reports through the
// video's hub, as the socket's hide_annotation and dismiss_report do (a
// *channels.Server).
type itemModerator interface {
	Hide(ctx context.Context, videoID, itemID int64, m channels.Moderator, reason string) error
	Dismiss(ctx context.Context, videoID, itemID int64, m channels.Moderator, reason string) error
}

// moderationBodyBytes bounds the body of a hide or a dismissal: a reason
// of domain.MaxReasonBytes, each byte escaped, fits.
const moderationBodyBytes = 8 << 10

// mountModeration serves the moderators' queue of open reports, as JSON
// (GET /api/moderation/reports, a bearer token or the sign-in cookie) and
// as a page (/moderation), and their hides and dismissals (POST
// /api/moderation/videos/{video}/items/{id}/hide and .../dismiss), which
// the video channel's hide_annotation and dismiss_report also make.
func (a *analysis) mountModeration(r chi.Router) {
	if m, ok := a.srv.deps.Socket.(itemModerator); ok {
		r.Post("/api/moderation/videos/{video}/items/{id}/hide", a.moderateItem(m.Hide))
		r.Post("/api/moderation/videos/{video}/items/{id}/dismiss", a.moderateItem(m.Dismiss))
	}
	q, ok := a.deps.ReadModels.(moderationQueue)
	if !ok {
		return
	}
	r.Get("/api/moderation/reports", func(w http.ResponseWriter, r *http.Request) {
		if _, err := a.user(r, domain.RoleModerator); err != nil {
			a.fail(w, r, err)
			return
		}
		items, more, err := queueItems(r.Context(), q)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(struct {
			Items []projections.QueueItem `json:"items"`
			More  bool                    `json:"more"`
		}{items, more})
	})
	if a.site == nil {
		return
	}
	base, ok := a.site.view.pages["error"]
	if !ok {
		panic("web: no error page to take the layout from")
	}
	a.site.view.pages["moderation"] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/moderation.html"))
	r.Group(func(r chi.Router) {
		r.Use(a.site.pageMiddleware)
		r.Get("/moderation", func(w http.ResponseWriter, r *http.Request) {
			if !a.pageUser(w, r, domain.RoleModerator) {
				return
			}
			items, more, err := queueItems(r.Context(), q)
			if err != nil {
				a.site.internalError(w, r, err)
				return
			}
			data := struct {
				Items []projections.QueueItem
				More  bool
			}{items, more}
			a.site.view.render(w, http.StatusOK, "moderation", a.site.page(w, r, "Moderation", "moderation", data))
		})
	})
}

// moderateItem answers a hide or a dismissal, {"reason": "..."}: 204
// once the event is in the log. A request signed in by cookie (the
// moderators' page) carries the page's CSRF token in X-CSRF-Token.
func (a *analysis) moderateItem(do func(context.Context, int64, int64, channels.Moderator, string) error) http.HandlerFunc {
	h := func(w http.ResponseWriter, r *http.Request) {
		u, err := a.user(r, domain.RoleModerator)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		video, err1 := strconv.ParseInt(chi.URLParam(r, "video"), 10, 64)
		item, err2 := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
		if err1 != nil || err2 != nil || video <= 0 || item <= 0 {
			a.fail(w, r, domain.ErrNotFound)
			return
		}
		var in struct {
			Reason *string `json:"reason"`
		}
		if err := a.srv.decodeLimit(w, r, &in, moderationBodyBytes); err != nil {
			a.fail(w, r, err)
			return
		}
		reason := ""
		if in.Reason != nil {
			reason = *in.Reason
		}
		m := channels.Moderator{ID: u.ID, Username: u.Username, Meta: requestMeta(r, u.ID)}
		if err := do(r.Context(), video, item, m, reason); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || a.site == nil {
			h(w, r)
			return
		}
		if _, ok := a.site.cookies.read(r); !ok {
			h(w, r) // 401
			return
		}
		a.site.pageMiddleware(http.HandlerFunc(h)).ServeHTTP(w, r)
	}
}

func queueItems(ctx context.Context, q moderationQueue) ([]projections.QueueItem, bool, error) {
	items := []projections.QueueItem{}
	more := false
	err := q.ModerationQueue(ctx, func(i projections.QueueItem) error {
		if len(items) == maxQueueItems {
			more = true
			return errEnough
		}
		items = append(items, i)
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, false, err
	}
	return items, more, nil
}
