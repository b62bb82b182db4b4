package web

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// handleEraseMe is DELETE /api/users/me with {"password"}: the bearer's
// account is erased for good once the password proves it is theirs
// (limited per address like sign-in). Their name, texts, devices and
// addresses read as erased from then on, everywhere; the facts of what
// they did (when, where, in which video) stay in the log.
func (s *Server) handleEraseMe(w http.ResponseWriter, r *http.Request) {
	u, err := s.bearer(r)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if !s.auth.allow(r, time.Now()) {
		writeError(w, r, s.logger, errRateLimited)
		return
	}
	var in struct {
		Password string `json:"password"`
	}
	if err := s.decode(w, r, &in); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if err := s.deps.Accounts.EraseSelf(r.Context(), u.ID, in.Password, requestMeta(r, u.ID)); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminErase is DELETE /api/admin/users/{id} with {"reason"}: an
// admin erases a user on request; reason is the request's reference,
// recorded with the event.
func (s *Server) handleAdminErase(w http.ResponseWriter, r *http.Request) {
	admin, err := s.adminBearer(r)
	var id int64
	if err == nil {
		id, err = parseUserID(chi.URLParam(r, "id"))
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err == nil {
		err = s.decode(w, r, &in)
	}
	if err == nil {
		err = s.adminSpend(w, r, admin.ID)
	}
	if err == nil {
		err = s.deps.Accounts.Erase(r.Context(), id, admin.ID, in.Reason, requestMeta(r, admin.ID))
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
