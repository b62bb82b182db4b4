package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/audit"
	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/export"
	"github.com/videologue/videologue/internal/timearg"
	"github.com/videologue/videologue/projections"
)

// ReadModels is what the analysts' and auditors' routes read (a
// *projections.DB). The videos are the catalog's (Deps.Videos).
type ReadModels interface {
	Counts(ctx context.Context, vid int64) (projections.Counts, error)
	Timeline(ctx context.Context, vid int64, from, to time.Time, fn func(projections.Entry) error) error
	Viewings(ctx context.Context, vid int64, from, to time.Time, fn func(projections.Viewing) error) error
	Annotations(ctx context.Context, vid int64, fn func(projections.Annotation) error) error
	Replies(ctx context.Context, vid int64, fn func(projections.Reply) error) error
	LiveReplies(ctx context.Context, vid int64) (int64, error)
	Item(ctx context.Context, vid, id int64) (*projections.Annotation, *projections.Reply, bool, error)
	// Hidden returns the items of video vid that moderators hid.
	Hidden(ctx context.Context, vid int64) (map[int64]bool, error)
	StateAt(ctx context.Context, vid int64, t time.Time) (projections.State, error)
	Audit(ctx context.Context, f projections.AuditFilter, fn func(projections.Entry) error) error
}

// Users finds users by name for the auditors' filter (an
// *accounts.Service).
type Users interface {
	ByUsername(ctx context.Context, name string) (accounts.User, error)
}

// AnalysisDeps are the services behind the analysts' and auditors' routes.
type AnalysisDeps struct {
	ReadModels ReadModels
	// Users, for the trail's ?user= filter; nil refuses that filter.
	Users Users
	// Log is the event log, for /api/audit/verify; nil leaves that route
	// unmounted.
	Log audit.Log
}

// The replay page's script and styles ship inside the binary, beside the
// site's own assets.
var (
	//go:embed static/replay.js static/analyst.css
	analysisStatic embed.FS
)

// analysis serves the analysts' API and replay page (this file) and the
// auditors' (audit.go). Analysts and auditors use the JSON API with a
// bearer token, or their browser's sign-in cookie on the pages and from the
// pages' scripts (GET only: nothing here changes state).
type analysis struct {
	srv  *Server
	deps AnalysisDeps
	site *site // the pages' sign-in cookies and templates; nil: no pages
	now  func() time.Time
}

// mountAnalysis mounts the analyst and auditor routes when Deps.Analysis
// is set.
func (s *Server) mountAnalysis(r chi.Router) {
	if s.deps.Analysis == nil || s.deps.Analysis.ReadModels == nil {
		return
	}
	a := &analysis{srv: s, deps: *s.deps.Analysis, now: time.Now}
	if len(s.cfg.CookieSecret) >= 16 {
		// A site of its own over the same secret reads the same sign-in
		// cookies and CSRF tokens as the other pages.
		a.site = newSite(s.cfg.CookieSecret, s.cfg.Secure, s.deps.Accounts, s.deps.Videos, s.deps.Tokens, s.logger)
		a.site.analysisPages = true
		if err := a.addPages(); err != nil {
			panic(err) // embedded templates: a parse error is a build defect
		}
	} else {
		s.logger.Warn("web: no cookie secret: the replay and audit pages are not served (the API is)")
	}
	r.Route("/api/videos/{id}/", func(r chi.Router) {
		r.Get("/timeline", a.timeline)
		r.Get("/state", a.state)
		r.Get("/stats", a.stats)
		r.Get("/viewings", a.viewings)
		// Deprecated: the viewings' earlier name, kept for clients
		// written against it.
		r.Get("/sessions", a.viewings)
		r.Get("/export/annotations", a.exportAnnotations)
		r.Get("/annotations.jsonld", a.webAnnotations) // auditors: webannotations.go
		r.Get("/annotations/{item}", a.webAnnotationItem)
	})
	r.Get("/users/{id}", a.webCreator)
	r.Get("/api/audit/annotations", a.auditTrail)
	if a.deps.Log != nil {
		r.Get("/api/audit/verify", a.verify)
	}
	if a.site != nil {
		r.With(secureHeaders(s.cfg.Secure)).Get("/static/replay.js", a.asset("static/replay.js", "text/javascript; charset=utf-8"))
		r.With(secureHeaders(s.cfg.Secure)).Get("/static/analyst.css", a.asset("static/analyst.css", "text/css; charset=utf-8"))
		r.Group(func(r chi.Router) {
			r.Use(a.site.pageMiddleware)
			r.Get("/replay", a.replayVideos) // analyst_nav.go
			r.Get("/replay/{id}", a.replayPage)
			r.Get("/audit", a.auditPage)
		})
	}
	a.mountModeration(r) // moderation.go
}

// addPages adds the analysts' and auditors' templates to the site's
// renderer, each inside the site's layout.
func (a *analysis) addPages() error {
	for _, name := range []string{"analyst_replay", "analyst_videos", "audit_trail"} {
		base, ok := a.site.view.pages["error"]
		if !ok {
			return errors.New("web: no error page to take the layout from")
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return err
		}
		a.site.view.pages[name] = t
	}
	return nil
}

func (a *analysis) asset(name, contentType string) http.HandlerFunc {
	body, err := analysisStatic.ReadFile(name)
	if err != nil {
		panic(err) // embedded above
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(body)
	}
}

// user authenticates the request (a bearer token, or else the sign-in
// cookie) and checks that its user may act as role.
func (a *analysis) user(r *http.Request, role domain.Role) (accounts.User, error) {
	var u accounts.User
	var err error
	if r.Header.Get("Authorization") != "" || a.site == nil {
		u, err = a.srv.bearer(r)
	} else if si, ok := a.site.cookies.read(r); ok {
		u, err = a.srv.deps.Accounts.Get(r.Context(), si.UserID)
		if errors.Is(err, domain.ErrNotFound) {
			err = errUnauthorized
		}
	} else {
		err = errUnauthorized
	}
	if err != nil {
		return accounts.User{}, err
	}
	if !u.Can(role) {
		return u, domain.ErrForbidden
	}
	return u, nil
}

// window is a video and a wall-clock window from the request.
type window struct {
	video    catalog.Video
	from, to time.Time
	// fromSet and toSet say the request named them: 0001-01-01T00:00:00Z
	// parses to the zero time, which the read models take for "unbounded".
	fromSet, toSet bool
}

func badRequest(msg string) error { return &requestError{http.StatusBadRequest, msg} }

// begin authenticates r for role and reads its video and window.
func (a *analysis) begin(r *http.Request, role domain.Role) (window, error) {
	if _, err := a.user(r, role); err != nil {
		return window{}, err
	}
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return window{}, domain.ErrNotFound
	}
	var wdw window
	if wdw.video, err = a.srv.deps.Videos.Get(r.Context(), id); err != nil {
		return window{}, err
	}
	q, now := r.URL.Query(), a.now()
	wdw.fromSet, wdw.toSet = strings.TrimSpace(q.Get("from")) != "", strings.TrimSpace(q.Get("to")) != ""
	if wdw.from, err = timearg.Parse(q.Get("from"), now); err != nil {
		return window{}, badRequest("from: " + err.Error())
	}
	if wdw.to, err = timearg.Parse(q.Get("to"), now); err != nil {
		return window{}, badRequest("to: " + err.Error())
	}
	return wdw, nil
}

func exportFormat(r *http.Request) (export.Format, error) {
	f := r.URL.Query().Get("format")
	if f == "" {
		return export.NDJSON, nil
	}
	fm, err := export.ParseFormat(f)
	if err != nil {
		return "", badRequest("format must be ndjson or csv")
	}
	return fm, nil
}

// stream starts a streamed export; the status is sent, so a later error
// can only cut the body short (and is logged).
func (a *analysis) stream(w http.ResponseWriter, f export.Format, name string) {
	h := w.Header()
	h.Set("Content-Type", f.ContentType())
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", `attachment; filename="`+name+"."+string(f)+`"`)
	w.WriteHeader(http.StatusOK)
}

func (a *analysis) streamFailed(r *http.Request, err error) {
	if err != nil && r.Context().Err() == nil {
		a.srv.logger.Error("export cut short", "path", r.URL.Path, "err", err)
	}
}

func (a *analysis) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, a.srv.logger, err)
}

// pageUser returns the signed-in user of a page if they may act as role;
// otherwise it answers (sign in, or 403) and returns false.
func (a *analysis) pageUser(w http.ResponseWriter, r *http.Request, role domain.Role) bool {
	if a.site.requireUser(w, r) == nil {
		return false
	}
	_, err := a.user(r, role)
	switch {
	case errors.Is(err, domain.ErrForbidden):
		a.site.fail(w, r, http.StatusForbidden, "Not for your role",
			"This page is for "+string(role)+"s. An admin can grant you the role: videologue users grant NAME "+string(role)+".")
		return false
	case err != nil:
		a.site.internalError(w, r, err)
		return false
	}
	return true
}

// replayView is what the replay page shows.
type replayView struct {
	Video  catalog.Video
	Counts projections.Counts
	From   string // RFC 3339, for the script
	To     string
	Charts []chart // charts.go
}

// replayPage plays a video's history back (static/replay.js).
func (a *analysis) replayPage(w http.ResponseWriter, r *http.Request) {
	if !a.pageUser(w, r, domain.RoleAnalyst) {
		return
	}
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		a.site.notFound(w, r)
		return
	}
	v, err := a.srv.deps.Videos.Get(r.Context(), id)
	if errors.Is(err, domain.ErrNotFound) {
		a.site.notFound(w, r)
		return
	}
	if errors.Is(err, domain.ErrVideoDeleted) {
		a.site.videoGone(w, r)
		return
	}
	if err != nil {
		a.site.internalError(w, r, err)
		return
	}
	c, err := a.deps.ReadModels.Counts(r.Context(), id)
	if err != nil {
		a.site.internalError(w, r, err)
		return
	}
	view := replayView{Video: v, Counts: c}
	if !c.FirstAt.IsZero() {
		// From a moment before the first event, so that playing shows it
		// happen.
		view.From, view.To = c.FirstAt.Add(-time.Second).Format(time.RFC3339Nano), c.LastAt.Add(time.Millisecond).Format(time.RFC3339Nano)
		if view.Charts, err = a.replayCharts(r.Context(), v); err != nil {
			a.site.internalError(w, r, err)
			return
		}
	}
	a.site.view.render(w, http.StatusOK, "analyst_replay", a.site.page(w, r, "Replay · "+v.Title, "analyst", view))
}
