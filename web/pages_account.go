package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/domain"
)

// authForm is what the register and sign-in templates show.
type authForm struct {
	Username string
	Next     string
	Error    string            // about the whole form
	Errors   map[string]string // per field: "username", "password"
}

// tooManyAttempts answers password checks over the per-address limit.
const tooManyAttempts = "Too many attempts from your network. Wait a minute, then try again."

// serverBusy answers password checks that found every hashing slot taken.
const serverBusy = "The server is busy signing people in. Try again in a moment."

func (s *site) allowed(r *http.Request) bool { return s.allowAuth == nil || s.allowAuth(r) }

func (s *site) registerForm(w http.ResponseWriter, r *http.Request) {
	if s.currentUser(r) != nil {
		http.Redirect(w, r, "/videos", http.StatusSeeOther)
		return
	}
	next := localPath(r.URL.Query().Get("next"))
	s.view.render(w, http.StatusOK, "register", s.page(w, r, "Create your account", "register", authForm{Next: next}))
}

func (s *site) register(w http.ResponseWriter, r *http.Request) {
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	form := authForm{Username: strings.TrimSpace(username), Next: localPath(r.PostFormValue("next")), Errors: map[string]string{}}
	if !s.allowed(r) {
		form.Error = tooManyAttempts
		s.view.render(w, http.StatusTooManyRequests, "register", s.page(w, r, "Create your account", "register", form))
		return
	}
	u, err := s.users.Register(r.Context(), username, password, metadata(r, 0))
	if err != nil {
		if field, msg, ok := validationMessage(err); ok {
			form.Errors[field] = fieldLabel(field) + " " + msg + "."
		} else if errors.Is(err, domain.ErrUsernameTaken) {
			form.Errors["username"] = "That username is taken. Choose another, or sign in if it's yours."
		} else if errors.Is(err, auth.ErrBusy) {
			s.busy(w, r, "register", "Create your account", form)
			return
		} else {
			s.internalError(w, r, err)
			return
		}
		s.view.render(w, http.StatusUnprocessableEntity, "register", s.page(w, r, "Create your account", "register", form))
		return
	}
	si, err := s.users.StartSignIn(r.Context(), u.ID, domain.SignInPage, pageSignInTTL, metadata(r, u.ID))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.cookies.start(w, r, u.ID, si.ID, si.ExpiresAt)
	s.setFlash(w, r, "welcome")
	http.Redirect(w, r, orDefault(form.Next, "/videos"), http.StatusSeeOther)
}

func (s *site) signInForm(w http.ResponseWriter, r *http.Request) {
	if s.currentUser(r) != nil {
		http.Redirect(w, r, "/videos", http.StatusSeeOther)
		return
	}
	next := localPath(r.URL.Query().Get("next"))
	s.view.render(w, http.StatusOK, "signin", s.page(w, r, "Sign in", "signin", authForm{Next: next}))
}

func (s *site) signIn(w http.ResponseWriter, r *http.Request) {
	username := r.PostFormValue("username")
	form := authForm{Username: strings.TrimSpace(username), Next: localPath(r.PostFormValue("next"))}
	if !s.allowed(r) {
		form.Error = tooManyAttempts
		s.view.render(w, http.StatusTooManyRequests, "signin", s.page(w, r, "Sign in", "signin", form))
		return
	}
	u, si, err := s.users.SignInWithPassword(r.Context(), username, r.PostFormValue("password"), domain.SignInPage, pageSignInTTL, metadata(r, 0))
	if errors.Is(err, domain.ErrBadCredentials) {
		form.Error = "Wrong username or password. Check both and try again."
		s.view.render(w, http.StatusUnauthorized, "signin", s.page(w, r, "Sign in", "signin", form))
		return
	}
	if errors.Is(err, auth.ErrBusy) {
		s.busy(w, r, "signin", "Sign in", form)
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.cookies.start(w, r, u.ID, si.ID, si.ExpiresAt)
	s.setFlash(w, r, "signed_in")
	http.Redirect(w, r, orDefault(form.Next, "/videos"), http.StatusSeeOther)
}

// busy shows the form again, 429 with a Retry-After, when every
// password-hashing slot stayed taken.
func (s *site) busy(w http.ResponseWriter, r *http.Request, tmpl, title string, form authForm) {
	form.Error = serverBusy
	w.Header().Set("Retry-After", busyRetryAfter)
	s.view.render(w, http.StatusTooManyRequests, tmpl, s.page(w, r, title, tmpl, form))
}

// signOut ends this browser's sign-in, on every node: the cookie, and
// the socket tokens minted from it, stop working even where they were
// copied.
func (s *site) signOut(w http.ResponseWriter, r *http.Request) {
	if si := signInFrom(r.Context()); si.UserID != 0 {
		if err := s.users.SignOut(r.Context(), si.UserID, si.ID, metadata(r, si.UserID)); err != nil {
			s.internalError(w, r, err)
			return
		}
	}
	s.cookies.end(w, r)
	s.setFlash(w, r, "signed_out")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// socketToken gives the watch page a fresh socket token from the sign-in
// cookie, so that a page open longer than a token lives can reconnect.
func (s *site) socketToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	u := s.currentUser(r)
	if u == nil {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"not signed in"}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"token": s.tokens.Sign(u.ID, signInFrom(r.Context()).ID)})
}

func fieldLabel(field string) string {
	switch field {
	case "username":
		return "Username"
	case "password":
		return "Password"
	case "title":
		return "Title"
	case "url":
		return "Address"
	}
	return field
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
