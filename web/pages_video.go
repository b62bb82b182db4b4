package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/domain"
)

// homeVideos is how many recent videos the home page shows.
const homeVideos = 8

// videoCard is a video in a grid.
type videoCard struct {
	ID                       int64
	Href, Title, Owner, Kind string
	Thumb, Added             string
}

// watchURL is a video's canonical address: /watch/42-my-title.
func watchURL(v catalog.Video) string {
	if v.Slug == "" {
		return "/watch/" + strconv.FormatInt(v.ID, 10)
	}
	return "/watch/" + strconv.FormatInt(v.ID, 10) + "-" + v.Slug
}

// cards renders videos with their owners' names, looked up once each.
func (s *site) cards(ctx context.Context, videos []catalog.Video) []videoCard {
	names := map[int64]string{}
	out := make([]videoCard, 0, len(videos))
	for _, v := range videos {
		name, ok := names[v.UserID]
		if !ok {
			name = s.username(ctx, v.UserID)
			names[v.UserID] = name
		}
		p := playerFor(v.URL)
		kind := "Media"
		if p.Kind == "youtube" {
			kind = "YouTube"
		}
		out = append(out, videoCard{ID: v.ID, Href: watchURL(v), Title: v.Title, Owner: name, Kind: kind,
			Thumb: p.thumbnail(), Added: ago(v.AddedAt, s.now())})
	}
	return out
}

func (s *site) username(ctx context.Context, id int64) string {
	if u, err := s.users.Get(ctx, id); err == nil {
		return u.Username
	}
	return "someone"
}

func (s *site) home(w http.ResponseWriter, r *http.Request) {
	videos := s.videos.List(r.Context(), catalog.Query{Limit: homeVideos}).Videos
	data := struct{ Videos []videoCard }{s.cards(r.Context(), videos)}
	s.view.render(w, http.StatusOK, "home", s.page(w, r, "", "home", data))
}

// listVideos shows a page of videos (everyone's, or with ?mine=1 the
// signed-in user's), with a link to the next.
func (s *site) listVideos(w http.ResponseWriter, r *http.Request) {
	data := struct {
		Mine     bool
		Videos   []videoCard
		NextPage string // "" on the last page
		First    bool   // no ?after=: the newest page
	}{Mine: r.URL.Query().Get("mine") != ""}
	nav := "videos"
	after, limit, err := pageParams(r.URL.Query())
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "Bad page address", err.Error()+".")
		return
	}
	q := catalog.Query{After: after, Limit: limit}
	if data.Mine {
		u := s.requireUser(w, r)
		if u == nil {
			return
		}
		q.UserID, nav = u.ID, "mine"
	}
	p := s.videos.List(r.Context(), q)
	data.Videos, data.First = s.cards(r.Context(), p.Videos), after == 0
	if p.Next != 0 {
		data.NextPage = nextPageURL(r, p.Next)
	}
	title := "All videos"
	if data.Mine {
		title = "My videos"
	}
	s.view.render(w, http.StatusOK, "videos", s.page(w, r, title, nav, data))
}

// videoForm is what the add-video template shows.
type videoForm struct {
	Title, URL string
	Error      string
	Errors     map[string]string
}

func (s *site) newVideo(w http.ResponseWriter, r *http.Request) {
	if s.requireUser(w, r) == nil {
		return
	}
	s.view.render(w, http.StatusOK, "video_new", s.page(w, r, "Add a video", "new", videoForm{}))
}

func (s *site) addVideo(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r)
	if u == nil {
		return
	}
	form := videoForm{Title: r.PostFormValue("title"), URL: r.PostFormValue("url"), Errors: map[string]string{}}
	if s.allowAddVideo != nil {
		if ok, wait := s.allowAddVideo(r, u.ID); !ok {
			form.Error = "You're adding videos quickly: " + tooFast(w, wait) + "."
			s.view.render(w, http.StatusTooManyRequests, "video_new", s.page(w, r, "Add a video", "new", form))
			return
		}
	}
	v, err := s.videos.Add(r.Context(), u.ID, form.Title, form.URL, metadata(r, u.ID))
	if err != nil {
		field, msg, ok := validationMessage(err)
		if !ok {
			s.internalError(w, r, err)
			return
		}
		form.Errors[field] = fieldLabel(field) + " " + msg + "."
		s.view.render(w, http.StatusUnprocessableEntity, "video_new", s.page(w, r, "Add a video", "new", form))
		return
	}
	s.setFlash(w, r, "video_added")
	http.Redirect(w, r, watchURL(v), http.StatusSeeOther)
}

// watchData is what the watch template shows.
type watchData struct {
	ID           int64
	Title, URL   string
	Owner, Added string
	Player       playerSource
	// Editable: the viewer may edit and delete it (owner or admin).
	Editable bool
}

// watch shows a video beside its annotations. /watch/42 and
// /watch/42-old-title redirect to the canonical /watch/42-title.
func (s *site) watch(w http.ResponseWriter, r *http.Request) {
	ref := chi.URLParam(r, "ref")
	idPart, _, _ := strings.Cut(ref, "-")
	id, err := strconv.ParseInt(idPart, 10, 64)
	if err != nil || id <= 0 {
		s.notFound(w, r)
		return
	}
	v, err := s.videos.Get(r.Context(), id)
	if errors.Is(err, domain.ErrNotFound) {
		s.notFound(w, r)
		return
	}
	if errors.Is(err, domain.ErrVideoDeleted) {
		s.videoGone(w, r)
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if canonical := watchURL(v); r.URL.Path != canonical {
		http.Redirect(w, r, canonical, http.StatusMovedPermanently)
		return
	}
	u := s.requireUser(w, r)
	if u == nil {
		return
	}
	p := s.page(w, r, v.Title, "watch", watchData{ID: v.ID, Title: v.Title, URL: v.URL, Editable: u.ID == v.UserID || u.Admin,
		Owner: s.username(r.Context(), v.UserID), Added: ago(v.AddedAt, s.now()), Player: playerFor(v.URL)})
	p.SocketToken = s.tokens.Sign(u.ID, signInFrom(r.Context()).ID)
	s.view.render(w, http.StatusOK, "watch", p)
}

// ago says when, for people: "just now", "5 minutes ago", "Mar 3, 2025".
func ago(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 7*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
	return t.Format("Jan 2, 2006")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
