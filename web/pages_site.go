package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// site is the server-rendered part of Videologue: accounts, the video
// catalog and the watch page, for browsers, signed in by a cookie.
type site struct {
	users   Accounts
	videos  Videos
	tokens  Tokens
	cookies *signInCookies
	csrf    *csrfGuard
	view    *renderer
	logger  *slog.Logger
	now     func() time.Time
	// allowAuth rate-limits password checks per client; nil allows all.
	allowAuth func(*http.Request) bool
	// allowAddVideo rate-limits adding videos per user and address, and
	// says how long to wait when it refuses; nil allows all.
	allowAddVideo func(r *http.Request, userID int64) (bool, time.Duration)
	// allowAdmin rate-limits admins' changes (pages_admin.go); nil allows
	// all.
	allowAdmin func(r *http.Request, userID int64) (bool, time.Duration)
	// analysisPages says the replay and audit pages are served, for the
	// navigation to link to them.
	analysisPages bool
}

// newSite builds the pages. secret signs cookies and CSRF tokens (with a
// key derived for each); secure marks cookies Secure even on plain HTTP,
// for a server behind a TLS-terminating proxy.
func newSite(secret []byte, secure bool, users Accounts, videos Videos, tokens Tokens, logger *slog.Logger) *site {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	view, err := newRenderer(logger)
	if err != nil { // the templates are embedded: a parse error is a build defect
		panic(err)
	}
	s := &site{users: users, videos: videos, tokens: tokens, view: view, logger: logger, now: time.Now}
	s.cookies = newSignInCookies(secret, secure)
	s.csrf = newCSRFGuard(secret, s.cookies, s.forbidden)
	return s
}

// pageMiddleware is what every page goes through: security headers, the
// sign-in cookie and whether its sign-in is live, CSRF protection.
func (s *site) pageMiddleware(next http.Handler) http.Handler {
	return secureHeaders(s.cookies.secure)(s.cookies.load(s.liveSignIn(s.csrf.protect(next))))
}

// routes mounts the pages on r.
func (s *site) routes(r chi.Router) {
	r.With(secureHeaders(s.cookies.secure)).Handle("/static/*", http.StripPrefix("/static/", s.view.staticHandler()))
	r.Group(func(r chi.Router) {
		r.Use(s.pageMiddleware)
		r.Get("/", s.home)
		r.Get("/register", s.registerForm)
		r.Post("/register", s.register)
		r.Get("/signin", s.signInForm)
		r.Post("/signin", s.signIn)
		r.Post("/signout", s.signOut)
		r.Get("/signin/socket-token", s.socketToken)
		// Deprecated: the earlier address, which a page served before an
		// upgrade still asks.
		r.Get("/session/socket-token", s.socketToken)
		r.Get("/account", s.account)
		r.Post("/account/password", s.changePassword)
		r.Post("/account/signout-everywhere", s.signOutEverywhere)
		r.Post("/account/erase", s.eraseAccount) // erase.go
		r.Get("/videos", s.listVideos)
		r.Get("/videos/new", s.newVideo)
		r.Post("/videos", s.addVideo)
		r.Get("/videos/{id}/edit", s.editVideo) // pages_video_edit.go
		r.Post("/videos/{id}/edit", s.updateVideo)
		r.Post("/videos/{id}/delete", s.deleteVideo)
		r.Get("/watch/{ref}", s.watch)
		s.adminRoutes(r) // pages_admin.go
	})
}

// currentUser is the signed-in user, or nil. A sign-in naming a user the
// log does not know (a wiped data directory) counts as signed out.
func (s *site) currentUser(r *http.Request) *viewUser {
	si := signInFrom(r.Context())
	if si.UserID == 0 {
		return nil
	}
	u, err := s.users.Get(r.Context(), si.UserID)
	if err != nil {
		return nil
	}
	return &viewUser{ID: u.ID, Username: u.Username, Admin: u.Can(domain.RoleAdmin),
		Analyst: s.analysisPages && u.Can(domain.RoleAnalyst), Auditor: s.analysisPages && u.Can(domain.RoleAuditor),
		Moderator: u.Can(domain.RoleModerator), ModerationPage: s.analysisPages && u.Can(domain.RoleModerator)}
}

// page starts a page for r: who is signed in, the CSRF token, the flash.
func (s *site) page(w http.ResponseWriter, r *http.Request, title, nav string, data any) page {
	return page{Title: title, Nav: nav, User: s.currentUser(r), CSRF: csrfToken(r.Context()), Flash: s.takeFlash(w, r), Data: data}
}

// requireUser returns the signed-in user, or sends the browser to sign in
// and back, and returns nil.
func (s *site) requireUser(w http.ResponseWriter, r *http.Request) *viewUser {
	if u := s.currentUser(r); u != nil {
		return u
	}
	http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	return nil
}

// errorPage is what the error template shows.
type errorPage struct {
	Status           int
	Heading, Message string
	Back, BackLabel  string
}

func (s *site) fail(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	p := s.page(w, r, heading, "error", errorPage{Status: status, Heading: heading, Message: message, Back: "/", BackLabel: "Go to the home page"})
	s.view.render(w, status, "error", p)
}

// forbidden answers a form without a valid CSRF token.
func (s *site) forbidden(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Form expired", Nav: "error", User: s.currentUser(r), Data: errorPage{
		Status:    http.StatusForbidden,
		Heading:   "This form has expired",
		Message:   "For your security, forms only work from a page Videologue just sent you. Go back, reload the page, and try again.",
		Back:      "/",
		BackLabel: "Go to the home page",
	}}
	s.view.render(w, http.StatusForbidden, "error", p)
}

func (s *site) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusNotFound, "Not found", "There is nothing at this address. The video may have a different link.")
}

// internalError logs err and shows a page without its text.
func (s *site) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.logger.Error("page failed", "method", r.Method, "path", r.URL.Path, "err", err)
	s.fail(w, r, http.StatusInternalServerError, "Something went wrong", "That didn't work on our side. Please try again in a moment.")
}

// Flash messages travel as a short code in a cookie across one redirect;
// the text is fixed here, so a cookie can never inject content.
const flashCookie = "vl_flash"

var flashes = map[string]string{
	"welcome":       "Welcome to Videologue! Add a video or open one to start annotating.",
	"signed_in":     "You're signed in.",
	"signed_out":    "You're signed out. See you soon.",
	"video_added":   "Video added. Play it and pin your first note.",
	"video_updated": "Video saved.",
	"video_deleted": "Video deleted. Its annotations stay in the log for auditors.",

	"password_changed":      "Password changed. Everywhere else you were signed in, you're now signed out.",
	"signed_out_everywhere": "You're signed out everywhere: on every device and of every API token.",
	"account_erased":        "Your account is erased. Your name and your notes read \"erased\" everywhere, for good.",
	"user_erased":           "User erased. Their name and notes read \"erased\" everywhere, for good.",

	"role_granted":   "Role granted. It shows on their next page.",
	"role_revoked":   "Role revoked. It is gone from their next page or request.",
	"sign_in_ended":  "Sign-in ended. Its pages and open videos were disconnected.",
	"sign_ins_ended": "Every sign-in of that user ended. Their pages and open videos were disconnected.",
}

func (s *site) setFlash(w http.ResponseWriter, r *http.Request, code string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: code, Path: "/", MaxAge: 60, HttpOnly: true,
		Secure: s.cookies.secureFor(r), SameSite: http.SameSiteLaxMode})
}

func (s *site) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.cookies.secureFor(r), SameSite: http.SameSiteLaxMode})
	return flashes[c.Value]
}

// metadata records who caused an event and from where.
func metadata(r *http.Request, userID int64) eventstore.Metadata {
	m := eventstore.Metadata{ClientAddr: r.RemoteAddr, CorrelationID: eventstore.NewID()}
	if userID != 0 {
		m.UserID = strconv.FormatInt(userID, 10)
	}
	return m
}

// validationMessage returns the safe message of a rule a request broke.
func validationMessage(err error) (field, message string, ok bool) {
	var ve *domain.ValidationError
	if errors.As(err, &ve) {
		return ve.Field, ve.Message, true
	}
	return "", "", false
}
