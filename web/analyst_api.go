package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/export"
	"github.com/videologue/videologue/internal/timearg"
	"github.com/videologue/videologue/projections"
	"github.com/videologue/videologue/stats"
)

// The analysts' JSON, CSV and NDJSON routes: a video's timeline, viewings,
// annotations, state as of a time, and statistics.

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
		if at, err = timearg.Parse(s, at); err != nil {
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
