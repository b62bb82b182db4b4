package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/domain"
)

// lastAdmin turns the refusal to erase the only admin into its answer.
func lastAdmin(err error) error {
	if errors.Is(err, accounts.ErrLastAdmin) {
		return errLastAdmin
	}
	return err
}

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
		writeError(w, r, s.logger, lastAdmin(err))
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
		err = lastAdmin(s.deps.Accounts.Erase(r.Context(), id, admin.ID, in.Reason, requestMeta(r, admin.ID)))
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// eraseAccount erases the signed-in user's account once their password
// proves it theirs, then signs this browser out.
func (s *site) eraseAccount(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r)
	if u == nil {
		return
	}
	form := accountForm{Errors: map[string]string{}}
	if !s.allowed(r) {
		form.Error = tooManyAttempts
		s.view.render(w, http.StatusTooManyRequests, "account", s.page(w, r, "Your account", "account", form))
		return
	}
	err := s.users.EraseSelf(r.Context(), u.ID, r.PostFormValue("password"), metadata(r, u.ID))
	if errors.Is(err, accounts.ErrLastAdmin) {
		form.Error = "You are the only admin: make someone else admin before erasing your account."
		s.view.render(w, http.StatusConflict, "account", s.page(w, r, "Your account", "account", form))
		return
	}
	if errors.Is(err, domain.ErrBadCredentials) {
		form.Errors["erase_password"] = "That password is wrong."
		s.view.render(w, http.StatusUnprocessableEntity, "account", s.page(w, r, "Your account", "account", form))
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.cookies.end(w, r)
	s.setFlash(w, r, "account_erased")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// adminErase erases a user (form: reason) on an admin's decision.
func (s *site) adminErase(w http.ResponseWriter, r *http.Request) {
	me := s.requireAdmin(w, r)
	if me == nil {
		return
	}
	id, err := parseUserID(chi.URLParam(r, "id"))
	if err == nil {
		err = s.adminSpend(w, r, me.ID)
	}
	if err == nil {
		err = lastAdmin(s.users.Erase(r.Context(), id, me.ID, r.PostFormValue("reason"), metadata(r, me.ID)))
	}
	if field, msg, ok := validationMessage(err); ok {
		err = badRequest(field + " " + msg)
	}
	if err != nil {
		s.adminFailed(w, r, err, adminBack(r, id))
		return
	}
	s.setFlash(w, r, "user_erased")
	back := "/admin"
	if id == me.ID {
		s.cookies.end(w, r)
		back = "/"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
