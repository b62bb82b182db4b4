package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/domain"
)

// changeableVideo is the video a request names, if the user may change
// it: the owner or an admin. It answers before any other work, so a
// stranger learns nothing from how their input would have been taken.
func changeableVideo(ctx context.Context, videos Videos, idParam string, u accounts.User) (catalog.Video, error) {
	id, err := strconv.ParseInt(idParam, 10, 64)
	if err != nil || id <= 0 {
		return catalog.Video{}, domain.ErrNotFound
	}
	v, err := videos.Get(ctx, id)
	if err != nil {
		return catalog.Video{}, err
	}
	if err := domain.MayChangeVideo(v.UserID, u.ID, u.Roles); err != nil {
		return catalog.Video{}, err
	}
	return v, nil
}

// handleUpdateVideo is PUT /api/videos/{id} {"title": ..., "url": ...}:
// both are required, as when adding. Edits share the limit on adding
// videos: each is an event in the log.
func (s *Server) handleUpdateVideo(w http.ResponseWriter, r *http.Request) {
	u, err := s.bearer(r)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	v, err := changeableVideo(r.Context(), s.deps.Videos, chi.URLParam(r, "id"), u)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	var in struct {
		Title *string `json:"title"`
		URL   *string `json:"url"`
	}
	if err := s.decode(w, r, &in); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if in.Title == nil || in.URL == nil {
		writeError(w, r, s.logger, badRequest("send both title and url"))
		return
	}
	if ok, wait := s.videoLimits.allow(r, u.ID, time.Now()); !ok {
		writeError(w, r, s.logger, &requestError{http.StatusTooManyRequests, tooFast(w, wait)})
		return
	}
	v, err = s.deps.Videos.Update(r.Context(), v.ID, u.ID, u.Roles, *in.Title, *in.URL, requestMeta(r, u.ID))
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, toVideoJSON(v))
}

// handleDeleteVideo is DELETE /api/videos/{id}: 204, then 410 for good.
// The video's annotations stay in the log.
func (s *Server) handleDeleteVideo(w http.ResponseWriter, r *http.Request) {
	u, err := s.bearer(r)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	v, err := changeableVideo(r.Context(), s.deps.Videos, chi.URLParam(r, "id"), u)
	if err == nil {
		err = s.deps.Videos.Delete(r.Context(), v.ID, u.ID, u.Roles, requestMeta(r, u.ID))
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
