package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
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
	"github.com/videologue/videologue/projections"
	"github.com/videologue/videologue/stats"
)

// ReadModels is what the analysts' and auditors' routes read (a
// *projections.DB). The videos are the catalog's (Deps.Videos).
type ReadModels interface {
	Counts(ctx context.Context, vid int64) (projections.Counts, error)
	Timeline(ctx context.Context, vid int64, from, to time.Time, fn func(projections.Entry) error) error
	Viewings(ctx context.Context, vid int64, from, to time.Time, fn func(projections.Viewing) error) error
	Annotations(ctx context.Context, vid int64, fn func(projections.Annotation) error) error
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
		r.Get("/annotations.jsonld", a.webAnnotations) // auditors: audit.go
	})
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
	if wdw.from, err = projections.ParseTime(q.Get("from"), now); err != nil {
		return window{}, badRequest("from: " + err.Error())
	}
	if wdw.to, err = projections.ParseTime(q.Get("to"), now); err != nil {
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

// timeline streams every event of the video in the window, in order; with
// ?limit=N, only the first N (a page: the next starts at the time of the
// last, whose position tells where exactly).
func (a *analysis) timeline(w http.ResponseWriter, r *http.Request) {
	wdw, err := a.begin(r, domain.RoleAnalyst)
	limit := 0
	if err == nil {
		limit, err = pageLimit(r)
	}
	if err == nil {
		var f export.Format
		if f, err = exportFormat(r); err == nil {
			a.stream(w, f, "video-"+strconv.FormatInt(wdw.video.ID, 10)+"-timeline")
			out := export.Entries(w, f)
			n := 0
			err = a.deps.ReadModels.Timeline(r.Context(), wdw.video.ID, wdw.from, wdw.to, func(e projections.Entry) error {
				if limit > 0 && n == limit {
					return errEnough
				}
				n++
				return out.Write(e)
			})
			if errors.Is(err, errEnough) {
				err = nil
			}
			a.streamFailed(r, errors.Join(err, out.Flush()))
			return
		}
	}
	a.fail(w, r, err)
}

// maxPage bounds ?limit=.
const maxPage = 100_000

// pageLimit reads ?limit=: 0 when absent (no limit).
func pageLimit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPage {
		return 0, badRequest(fmt.Sprintf("limit must be a whole number from 1 to %d", maxPage))
	}
	return n, nil
}

// viewings streams the viewings overlapping the window.
func (a *analysis) viewings(w http.ResponseWriter, r *http.Request) {
	wdw, err := a.begin(r, domain.RoleAnalyst)
	if err == nil {
		var f export.Format
		if f, err = exportFormat(r); err == nil {
			a.stream(w, f, "video-"+strconv.FormatInt(wdw.video.ID, 10)+"-viewings")
			out := export.Viewings(w, f, a.now())
			err = a.deps.ReadModels.Viewings(r.Context(), wdw.video.ID, wdw.from, wdw.to, out.Write)
			a.streamFailed(r, errors.Join(err, out.Flush()))
			return
		}
	}
	a.fail(w, r, err)
}

// exportAnnotations streams the video's annotations as they are now, in
// video-time order.
func (a *analysis) exportAnnotations(w http.ResponseWriter, r *http.Request) {
	wdw, err := a.begin(r, domain.RoleAnalyst)
	if err == nil {
		var f export.Format
		if f, err = exportFormat(r); err == nil {
			a.stream(w, f, "video-"+strconv.FormatInt(wdw.video.ID, 10)+"-annotations")
			out := export.Annotations(w, f)
			err = a.deps.ReadModels.Annotations(r.Context(), wdw.video.ID, out.Write)
			a.streamFailed(r, errors.Join(err, out.Flush()))
			return
		}
	}
	a.fail(w, r, err)
}

// state answers the video as of ?at= (default now).
func (a *analysis) state(w http.ResponseWriter, r *http.Request) {
	wdw, err := a.begin(r, domain.RoleAnalyst)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	at := a.now()
	if s := r.URL.Query().Get("at"); s != "" {
		if at, err = projections.ParseTime(s, at); err != nil {
			a.fail(w, r, badRequest("at: "+err.Error()))
			return
		}
	}
	st, err := a.deps.ReadModels.StateAt(r.Context(), wdw.video.ID, at)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// stats answers the video's statistics over the window (?step= sets the
// resolution of the viewers series).
func (a *analysis) stats(w http.ResponseWriter, r *http.Request) {
	wdw, err := a.begin(r, domain.RoleAnalyst)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var step time.Duration
	if s := r.URL.Query().Get("step"); s != "" {
		if step, err = time.ParseDuration(s); err != nil || step <= 0 {
			a.fail(w, r, badRequest("step must be a duration such as 30s or 5m"))
			return
		}
	}
	if err := checkStatsWindow(wdw, step, a.now()); err != nil {
		a.fail(w, r, err)
		return
	}
	st, err := stats.Of(r.Context(), a.deps.ReadModels, wdw.video.ID, wdw.from, wdw.to, step, a.now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// The stats window's bounds: a longer span or a finer step than these is
// refused rather than computed, so that one request cannot ask for an
// unbounded series.
const (
	maxStatsSpan   = 10 * 366 * 24 * time.Hour
	maxStatsPoints = 10_000
)

// checkStatsWindow refuses a window that ends before it starts, spans more
// than maxStatsSpan, or would give more than maxStatsPoints points at step.
// It compares instants, never their difference, which saturates at 292
// years. A missing from (the video's first event) is bounded by the query.
func checkStatsWindow(wdw window, step time.Duration, now time.Time) error {
	if !wdw.fromSet {
		return nil
	}
	to := wdw.to
	if !wdw.toSet {
		to = now
	}
	if !wdw.from.Before(to) {
		return badRequest("from must be before to")
	}
	if to.After(wdw.from.Add(maxStatsSpan)) {
		return badRequest(fmt.Sprintf("the window may span at most %d days: narrow from and to", maxStatsSpan/(24*time.Hour)))
	}
	if step > 0 && to.Sub(wdw.from)/step > maxStatsPoints {
		return badRequest(fmt.Sprintf("step is too fine for the window: at most %d points; use a step of at least %s", maxStatsPoints, (to.Sub(wdw.from)/maxStatsPoints).Round(time.Second)+time.Second))
	}
	return nil
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
