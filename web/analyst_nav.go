package web

import (
	"net/http"
	"strconv"

	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/domain"
)

// servesAnalysisPages says the replay and audit pages are mounted (see
// mountAnalysis): the navigation links to them only then.
func (s *Server) servesAnalysisPages() bool {
	return s.deps.Analysis != nil && s.deps.Analysis.ReadModels != nil && len(s.cfg.CookieSecret) >= 16
}

// replayVideos is the analysts' way in: every video, newest first, each
// card opening its replay and statistics.
func (a *analysis) replayVideos(w http.ResponseWriter, r *http.Request) {
	if !a.pageUser(w, r, domain.RoleAnalyst) {
		return
	}
	after, limit, err := pageParams(r.URL.Query())
	if err != nil {
		a.site.fail(w, r, http.StatusBadRequest, "Bad page address", err.Error()+".")
		return
	}
	p := a.srv.deps.Videos.List(r.Context(), catalog.Query{After: after, Limit: limit})
	data := struct {
		Videos   []videoCard
		NextPage string
	}{Videos: a.site.cards(r.Context(), p.Videos)}
	for i := range data.Videos {
		data.Videos[i].Href = "/replay/" + strconv.FormatInt(data.Videos[i].ID, 10)
	}
	if p.Next != 0 {
		data.NextPage = nextPageURL(r, p.Next)
	}
	a.site.view.render(w, http.StatusOK, "analyst_videos", a.site.page(w, r, "Replay and statistics", "analyst", data))
}
