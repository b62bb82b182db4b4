package web

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"

	"github.com/go-chi/chi/v5"

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

// mountModeration serves the moderators' queue of open reports, as JSON
// (GET /api/moderation/reports, a bearer token or the sign-in cookie) and
// as a page (/moderation). Hiding and dismissing happen on the video
// channel (hide_annotation, dismiss_report), from the watch page.
func (a *analysis) mountModeration(r chi.Router) {
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
