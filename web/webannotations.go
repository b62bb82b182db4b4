package web

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/export"
)

// The auditors' W3C Web Annotation export: the collection, paged; each
// annotation's and reply's IRI; each creator's IRI. All need the auditor
// role, as the export does.

// webCollection names video v's export under base.
func webCollection(base string, v catalog.Video) export.Collection {
	vid := strconv.FormatInt(v.ID, 10)
	return export.Collection{
		ID:    base + "/api/videos/" + vid + "/annotations.jsonld",
		Label: v.Title,
		Video: v.URL,
		AnnotationIRI: func(id int64) string {
			return base + "/api/videos/" + vid + "/annotations/" + strconv.FormatInt(id, 10)
		},
		UserIRI: func(id int64) string { return base + "/users/" + strconv.FormatInt(id, 10) },
	}
}

func setJSONLD(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", `application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// webAnnotations is GET /api/videos/{id}/annotations.jsonld: the
// collection with its first page, or with ?page=N (0 is the first) that
// page alone. Pages hold export.DefaultPageSize items.
func (a *analysis) webAnnotations(w http.ResponseWriter, r *http.Request) {
	wdw, err := a.begin(r, domain.RoleAuditor)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ctx, vid := r.Context(), wdw.video.ID
	counts, err := a.deps.ReadModels.Counts(ctx, vid)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	replies, err := a.deps.ReadModels.LiveReplies(ctx, vid)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p := export.Paging{Size: export.DefaultPageSize, Total: counts.Live + replies}
	page := int64(-1)
	if q := r.URL.Query().Get("page"); q != "" {
		page, err = strconv.ParseInt(q, 10, 64)
		if err != nil || page < 0 || page >= p.Pages() {
			a.fail(w, r, badRequest("page must be an integer from 0 to "+strconv.FormatInt(p.Pages()-1, 10)))
			return
		}
	}
	c := webCollection(a.srv.cfg.PublicURL, wdw.video)
	setJSONLD(w)
	w.WriteHeader(http.StatusOK)
	items := export.VideoItems(ctx, a.deps.ReadModels, vid)
	if page < 0 {
		err = export.WebAnnotationCollection(w, c, p, items)
	} else {
		err = export.WebAnnotationPage(w, c, p, page, items)
	}
	a.streamFailed(r, err)
}

// webAnnotationItem is GET /api/videos/{id}/annotations/{item}: what an
// annotation's or a reply's IRI names, as JSON-LD; 404 for an id that is
// neither's, 410 for one deleted.
func (a *analysis) webAnnotationItem(w http.ResponseWriter, r *http.Request) {
	wdw, err := a.begin(r, domain.RoleAuditor)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	id, err := strconv.ParseInt(chi.URLParam(r, "item"), 10, 64)
	if err != nil || id <= 0 {
		a.fail(w, r, domain.ErrNotFound)
		return
	}
	ann, reply, found, err := a.deps.ReadModels.Item(r.Context(), wdw.video.ID, id)
	switch {
	case err != nil:
		a.fail(w, r, err)
		return
	case !found:
		a.fail(w, r, domain.ErrNotFound)
		return
	}
	var it export.Item
	if ann != nil {
		it = export.Item{Annotation: *ann}
	} else {
		it = export.ReplyItem(*reply)
	}
	hidden, err := a.deps.ReadModels.Hidden(r.Context(), wdw.video.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	it.Hidden = hidden[it.ID]
	if it.Deleted {
		a.fail(w, r, &requestError{http.StatusGone, "this annotation was deleted"})
		return
	}
	setJSONLD(w)
	w.WriteHeader(http.StatusOK)
	a.streamFailed(r, export.WebAnnotationItem(w, webCollection(a.srv.cfg.PublicURL, wdw.video), it))
}

// webCreator is GET /users/{id}: what a creator's IRI names, the user as
// a JSON-LD Person.
func (a *analysis) webCreator(w http.ResponseWriter, r *http.Request) {
	if _, err := a.user(r, domain.RoleAuditor); err != nil {
		a.fail(w, r, err)
		return
	}
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		a.fail(w, r, domain.ErrNotFound)
		return
	}
	u, err := a.srv.deps.Accounts.Get(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	setJSONLD(w)
	w.WriteHeader(http.StatusOK)
	c := export.Collection{UserIRI: func(id int64) string { return a.srv.cfg.PublicURL + "/users/" + strconv.FormatInt(id, 10) }}
	a.streamFailed(r, export.WebCreator(w, c, u.ID, u.Username))
}
