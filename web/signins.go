package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/domain"
)

// apiSignInTTL is how long a sign-in through the API lasts: as long as
// the token it hands out (auth's default MaxAge).
const apiSignInTTL = 24 * time.Hour

// liveSignIn checks that the sign-in a valid cookie names is still live:
// one that was ended (signed out, password changed, signed out
// everywhere, on any node) or expired counts as signed out, and its
// cookie is removed. It runs after signInCookies.load and before csrf.protect,
// which binds form tokens to the live sign-in only.
func (s *site) liveSignIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		si := signInFrom(r.Context())
		if si.UserID != 0 {
			live, err := s.users.SignInLive(r.Context(), si.UserID, si.ID)
			if err != nil {
				s.logger.Error("sign-in check failed", "user_id", si.UserID, "err", err)
			}
			if !live {
				if err == nil {
					s.cookies.end(w, r)
				}
				r = r.WithContext(context.WithValue(r.Context(), signInKey{}, signIn{}))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// accountForm is what the account template shows.
type accountForm struct {
	Error  string            // about the whole form
	Errors map[string]string // per field: "current_password", "new_password"
}

func (s *site) account(w http.ResponseWriter, r *http.Request) {
	if s.requireUser(w, r) == nil {
		return
	}
	s.view.render(w, http.StatusOK, "account", s.page(w, r, "Your account", "account", accountForm{}))
}

// changePassword sets a new password once the current one is proved, and
// ends every other sign-in of the user; this browser stays signed in.
func (s *site) changePassword(w http.ResponseWriter, r *http.Request) {
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
	si := signInFrom(r.Context())
	err := s.users.ChangePassword(r.Context(), u.ID, r.PostFormValue("current_password"), r.PostFormValue("new_password"), si.ID, metadata(r, u.ID))
	if err != nil {
		field, msg, ok := validationMessage(err)
		if !ok {
			s.internalError(w, r, err)
			return
		}
		label := map[string]string{"current_password": "That", "new_password": "The new password"}[field]
		form.Errors[field] = label + " " + msg + "."
		s.view.render(w, http.StatusUnprocessableEntity, "account", s.page(w, r, "Your account", "account", form))
		return
	}
	s.setFlash(w, r, "password_changed")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// signOutEverywhere ends every sign-in of the user, this browser's too.
func (s *site) signOutEverywhere(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r)
	if u == nil {
		return
	}
	if err := s.users.SignOutEverywhere(r.Context(), u.ID, metadata(r, u.ID)); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.cookies.end(w, r)
	s.setFlash(w, r, "signed_out_everywhere")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// handleSignOut ends the sign-in of the bearer token: that token, and
// any socket token minted for the same sign-in, stop working everywhere.
func (s *Server) handleSignOut(w http.ResponseWriter, r *http.Request) {
	u, signIn, err := s.bearerSignIn(r)
	if err == nil {
		err = s.deps.Accounts.SignOut(r.Context(), u.ID, signIn, requestMeta(r, u.ID))
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleSignOutEverywhere ends every sign-in of the bearer's user,
// browsers and tokens alike, the bearer's own included.
func (s *Server) handleSignOutEverywhere(w http.ResponseWriter, r *http.Request) {
	u, _, err := s.bearerSignIn(r)
	if err == nil {
		err = s.deps.Accounts.SignOutEverywhere(r.Context(), u.ID, requestMeta(r, u.ID))
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleChangePassword is PUT /api/users/me/password with
// {"current_password","new_password"}: limited per address like sign-in,
// the current password checked before any other work, the new one held
// to the rules of registration. Every other sign-in of the user ends; the
// bearer's stays.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) {
	u, signIn, err := s.bearerSignIn(r)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if !s.auth.allow(r, time.Now()) {
		writeError(w, r, s.logger, errRateLimited)
		return
	}
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := s.decode(w, r, &in); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if err := s.deps.Accounts.ChangePassword(r.Context(), u.ID, in.Current, in.New, signIn, requestMeta(r, u.ID)); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// bearerSignIn authenticates the request's Authorization: Bearer token:
// its signature and age, its user, and that its sign-in is live.
func (s *Server) bearerSignIn(r *http.Request) (accounts.User, string, error) {
	token, ok := bearerToken(r)
	if !ok {
		return accounts.User{}, "", errUnauthorized
	}
	id, signIn, err := s.deps.Tokens.Verify(token)
	if err != nil {
		return accounts.User{}, "", errUnauthorized
	}
	live, err := s.deps.Accounts.SignInLive(r.Context(), id, signIn)
	if err != nil {
		return accounts.User{}, "", err
	}
	if !live {
		return accounts.User{}, "", errSignedOut
	}
	u, err := s.deps.Accounts.Get(r.Context(), id)
	if errors.Is(err, domain.ErrNotFound) {
		return accounts.User{}, "", errUnauthorized
	}
	return u, signIn, err
}

var errSignedOut = &requestError{http.StatusUnauthorized, "this sign-in has ended: sign in again"}
