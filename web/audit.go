package web

import (
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/videologue/videologue/audit"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/export"
	"github.com/videologue/videologue/internal/timearg"
	"github.com/videologue/videologue/projections"
)

// The auditors' routes: who commented when, the Web Annotation export,
// and the verification of the log's hash chain.

// auditFilter reads the trail's filters: ?user= (name), ?video=, ?from=,
// ?to=.
func (a *analysis) auditFilter(r *http.Request) (projections.AuditFilter, error) {
	var f projections.AuditFilter
	q, now := r.URL.Query(), a.now()
	var err error
	if f.From, err = timearg.Parse(q.Get("from"), now); err != nil {
		return f, badRequest("from: " + err.Error())
	}
	if f.To, err = timearg.Parse(q.Get("to"), now); err != nil {
		return f, badRequest("to: " + err.Error())
	}
	if v := q.Get("video"); v != "" {
		if f.VideoID, err = strconv.ParseInt(v, 10, 64); err != nil || f.VideoID <= 0 {
			return f, badRequest("video must be a video id")
		}
	}
	if name := strings.TrimSpace(q.Get("user")); name != "" {
		if a.deps.Users == nil {
			return f, badRequest("the user filter is not available here")
		}
		u, err := a.deps.Users.ByUsername(r.Context(), name)
		if errors.Is(err, domain.ErrNotFound) {
			return f, &requestError{http.StatusNotFound, "no user named " + strconv.Quote(name)}
		}
		if err != nil {
			return f, err
		}
		f.UserID = u.ID
	}
	return f, nil
}

// auditTrail streams every annotation event the filters select, in server
// time order, with its user, connection and client address.
func (a *analysis) auditTrail(w http.ResponseWriter, r *http.Request) {
	if _, err := a.user(r, domain.RoleAuditor); err != nil {
		a.fail(w, r, err)
		return
	}
	f, err := a.auditFilter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	fm, err := exportFormat(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.stream(w, fm, "annotation-trail")
	out := export.Entries(w, fm)
	err = a.deps.ReadModels.Audit(r.Context(), f, out.Write)
	a.streamFailed(r, errors.Join(err, out.Flush()))
}

// verify walks the log's hash chain: 200 with the head's hash when it
// holds, 409 naming the first event that does not match. Each ?anchor=
// POSITION:HASH (a head reported earlier) must still be in the log, or
// it is 409 saying why.
func (a *analysis) verify(w http.ResponseWriter, r *http.Request) {
	if _, err := a.user(r, domain.RoleAuditor); err != nil {
		a.fail(w, r, err)
		return
	}
	var opts audit.Options
	for _, text := range r.URL.Query()["anchor"] {
		an, err := audit.ParseAnchor(text)
		if err != nil {
			a.fail(w, r, &requestError{http.StatusBadRequest, err.Error()})
			return
		}
		opts.Anchors = append(opts.Anchors, an)
	}
	rep, err := audit.Verify(r.Context(), a.deps.Log, opts)
	var m *audit.MismatchError
	var an *audit.AnchorError
	switch {
	case errors.As(err, &an):
		writeJSON(w, http.StatusConflict, map[string]any{
			"ok": false, "verified": rep.Events, "head": rep.Head,
			"anchor": map[string]any{"anchor": an.Anchor.String(), "reason": an.Reason},
		})
	case errors.As(err, &m):
		writeJSON(w, http.StatusConflict, map[string]any{
			"ok": false, "verified": rep.Events, "head": rep.Head,
			"mismatch": map[string]any{"position": m.Position, "stream": m.Stream, "revision": m.Revision, "type": m.Type, "id": m.ID, "reason": m.Reason},
		})
	case err != nil:
		a.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "verified": rep.Events, "head": rep.Head,
			"head_hash": hex.EncodeToString(rep.HeadHash[:]), "seconds": rep.Elapsed.Seconds()})
	}
}

// auditView is what the audit page shows.
type auditView struct {
	User, Video, From, To string
	Entries               []projections.Entry
	More                  bool   // the page shows the first maxAuditRows
	CSV, NDJSON           string // the full exports with these filters
	Error                 string
}

const maxAuditRows = 500

var errEnough = errors.New("enough rows")

// auditPage shows who commented when, filtered, with links to the full
// exports.
func (a *analysis) auditPage(w http.ResponseWriter, r *http.Request) {
	if !a.pageUser(w, r, domain.RoleAuditor) {
		return
	}
	q := r.URL.Query()
	view := auditView{User: q.Get("user"), Video: q.Get("video"), From: q.Get("from"), To: q.Get("to")}
	filters := url.Values{}
	for _, k := range []string{"user", "video", "from", "to"} {
		if v := q.Get(k); v != "" {
			filters.Set(k, v)
		}
	}
	view.NDJSON = "/api/audit/annotations?" + filters.Encode()
	filters.Set("format", "csv")
	view.CSV = "/api/audit/annotations?" + filters.Encode()
	status := http.StatusOK
	f, err := a.auditFilter(r)
	var re *requestError
	switch {
	case errors.As(err, &re):
		status, view.Error = re.status, re.msg
	case err != nil:
		a.site.internalError(w, r, err)
		return
	default:
		err = a.deps.ReadModels.Audit(r.Context(), f, func(e projections.Entry) error {
			if len(view.Entries) == maxAuditRows {
				view.More = true
				return errEnough
			}
			view.Entries = append(view.Entries, e)
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			a.site.internalError(w, r, err)
			return
		}
	}
	a.site.view.render(w, status, "audit_trail", a.site.page(w, r, "Who commented when", "audit", view))
}
