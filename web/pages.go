package web

import (
	"crypto/rand"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/videologue/videologue/domain"
)

// mountPages mounts the HTML pages, their assets, and the 404 page of
// everything outside /api (see pages_*.go).
func (s *Server) mountPages(r chi.Router) {
	secret := s.cfg.CookieSecret
	if len(secret) < 16 {
		// Sign-in cookies then end when the process does; serve passes its secret.
		s.logger.Warn("web: no cookie secret configured, sign-ins will not survive a restart")
		secret = make([]byte, 32)
		_, _ = rand.Read(secret) // crypto/rand.Read never fails
	}
	site := newSite(secret, s.cfg.Secure, s.deps.Accounts, s.deps.Videos, s.deps.Tokens, s.logger)
	site.allowAuth = func(r *http.Request) bool { return s.auth.allow(r, time.Now()) }
	site.allowAddVideo = func(r *http.Request, userID int64) (bool, time.Duration) {
		return s.videoLimits.allow(r, userID, time.Now())
	}
	site.allowAdmin = s.allowAdmin
	site.analysisPages = s.servesAnalysisPages()
	site.routes(r)
	notFound := site.pageMiddleware(http.HandlerFunc(site.notFound))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/api" {
			writeError(w, r, s.logger, domain.ErrNotFound)
			return
		}
		notFound.ServeHTTP(w, r)
	})
}
