package web

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/domain"
)

// videoEditForm is what the edit template shows.
type videoEditForm struct {
	videoForm
	ID       int64
	Back     string // the video's watch page
	Deleting string // the delete form's error
}

// changeable is the signed-in user and the video the request names, when
// they may change it; otherwise it answers (sign in, 403, 404, 410) and
// returns false.
func (s *site) changeable(w http.ResponseWriter, r *http.Request) (accounts.User, catalog.Video, bool) {
	vu := s.requireUser(w, r)
	if vu == nil {
		return accounts.User{}, catalog.Video{}, false
	}
	u, err := s.users.Get(r.Context(), vu.ID)
	var v catalog.Video
	if err == nil {
		v, err = changeableVideo(r.Context(), s.videos, chi.URLParam(r, "id"), u)
	}
	switch {
	case err == nil:
		return u, v, true
	case errors.Is(err, domain.ErrNotFound):
		s.notFound(w, r)
	case errors.Is(err, domain.ErrVideoDeleted):
		s.videoGone(w, r)
	case errors.Is(err, domain.ErrForbidden):
		s.fail(w, r, http.StatusForbidden, "Not your video", "Only the person who added this video, or an admin, may edit or delete it.")
	default:
		s.internalError(w, r, err)
	}
	return accounts.User{}, catalog.Video{}, false
}

// videoGone is the page of a deleted video.
func (s *site) videoGone(w http.ResponseWriter, r *http.Request) {
	p := s.page(w, r, "Video deleted", "error", errorPage{Status: http.StatusGone, Heading: "This video was deleted",
		Message: "The person who added it, or an admin, deleted it. Its annotations stay in the log for auditors.",
		Back:    "/videos", BackLabel: "Browse videos"})
	s.view.render(w, http.StatusGone, "error", p)
}

func (s *site) editVideo(w http.ResponseWriter, r *http.Request) {
	_, v, ok := s.changeable(w, r)
	if !ok {
		return
	}
	form := videoEditForm{videoForm: videoForm{Title: v.Title, URL: v.URL}, ID: v.ID, Back: watchURL(v)}
	s.view.render(w, http.StatusOK, "video_edit", s.page(w, r, "Edit "+v.Title, "edit", form))
}

func (s *site) updateVideo(w http.ResponseWriter, r *http.Request) {
	u, v, ok := s.changeable(w, r)
	if !ok {
		return
	}
	form := videoEditForm{videoForm: videoForm{Title: r.PostFormValue("title"), URL: r.PostFormValue("url"), Errors: map[string]string{}}, ID: v.ID, Back: watchURL(v)}
	if s.allowAddVideo != nil {
		if ok, wait := s.allowAddVideo(r, u.ID); !ok {
			form.Error = "You're changing videos quickly: " + tooFast(w, wait) + "."
			s.view.render(w, http.StatusTooManyRequests, "video_edit", s.page(w, r, "Edit "+v.Title, "edit", form))
			return
		}
	}
	v, err := s.videos.Update(r.Context(), v.ID, u.ID, u.Roles, form.Title, form.URL, metadata(r, u.ID))
	if err != nil {
		field, msg, ok := validationMessage(err)
		if !ok {
			s.internalError(w, r, err)
			return
		}
		form.Errors[field] = fieldLabel(field) + " " + msg + "."
		s.view.render(w, http.StatusUnprocessableEntity, "video_edit", s.page(w, r, "Edit video", "edit", form))
		return
	}
	s.setFlash(w, r, "video_updated")
	http.Redirect(w, r, watchURL(v), http.StatusSeeOther)
}

// deleteVideo deletes once the form's box saying so is ticked (the page
// asks for it; the check here covers a form sent without it).
func (s *site) deleteVideo(w http.ResponseWriter, r *http.Request) {
	u, v, ok := s.changeable(w, r)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		form := videoEditForm{videoForm: videoForm{Title: v.Title, URL: v.URL}, ID: v.ID, Back: watchURL(v),
			Deleting: "Tick the box to confirm that the video should be deleted."}
		s.view.render(w, http.StatusUnprocessableEntity, "video_edit", s.page(w, r, "Edit "+v.Title, "edit", form))
		return
	}
	if err := s.videos.Delete(r.Context(), v.ID, u.ID, u.Roles, metadata(r, u.ID)); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.setFlash(w, r, "video_deleted")
	http.Redirect(w, r, "/videos?mine=1", http.StatusSeeOther)
}
