package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/domain"
)

// adminRoutes mounts the admin pages: the users, each one's roles and
// sign-ins. Every change is a form with the CSRF token, and an event in
// the log naming the admin.
func (s *site) adminRoutes(r chi.Router) {
	r.Get("/admin", s.adminUsers)
	r.Get("/admin/users/{id}", s.adminUser)
	r.Post("/admin/users/{id}/roles", s.adminChangeRole)
	r.Post("/admin/users/{id}/sign-ins/end", s.adminEndSignIns)
	r.Post("/admin/users/{id}/erase", s.adminErase) // erase.go
}

// requireAdmin returns the signed-in admin; anyone else is sent to sign
// in, or shown a 403 page, and gets nil.
func (s *site) requireAdmin(w http.ResponseWriter, r *http.Request) *viewUser {
	u := s.requireUser(w, r)
	if u != nil && !u.Admin {
		s.fail(w, r, http.StatusForbidden, "Not for your role",
			"This page is for admins. The operator can grant you the role: videologue users grant NAME admin.")
		return nil
	}
	return u
}

// adminRow is a user as the admin pages show them.
type adminRow struct {
	ID         int64
	Username   string
	Registered string
	Roles      []roleRow
	Self       bool
	// What each role's form carries: the token, the page to return to;
	// Detail: on the user's own page, which needs no link to itself.
	CSRF, Back string
	Detail     bool
}

type roleRow struct {
	Role domain.Role
	Held bool
}

func (s *site) adminRow(r *http.Request, u accounts.User, self int64, back string) adminRow {
	row := adminRow{ID: u.ID, Username: u.Username, Registered: ago(u.RegisteredAt, s.now()), Self: u.ID == self,
		CSRF: csrfToken(r.Context()), Back: back}
	for _, r := range grantable {
		row.Roles = append(row.Roles, roleRow{Role: r, Held: u.Roles[r]})
	}
	return row
}

// adminUsers lists the users a page at a time, those whose name holds ?q=.
func (s *site) adminUsers(w http.ResponseWriter, r *http.Request) {
	me := s.requireAdmin(w, r)
	if me == nil {
		return
	}
	data := struct {
		Query, Error, NextPage, Back string // Back: this page, for the forms to return to
		First                        bool
		Users                        []adminRow
	}{Query: r.URL.Query().Get("q"), Back: r.URL.RequestURI(), First: r.URL.Query().Get("after") == ""}
	q, err := userQuery(r.URL.Query())
	if err != nil {
		data.Error = capitalize(err.Error()) + "."
		s.view.render(w, http.StatusBadRequest, "admin", s.page(w, r, "Users", "admin", data))
		return
	}
	p := s.users.Users(r.Context(), q)
	for _, u := range p.Users {
		data.Users = append(data.Users, s.adminRow(r, u, me.ID, data.Back))
	}
	if p.Next != 0 {
		data.NextPage = nextPageURL(r, p.Next)
	}
	s.view.render(w, http.StatusOK, "admin", s.page(w, r, "Users", "admin", data))
}

// signInRow is a live sign-in as the admin page shows it.
type signInRow struct {
	ID, Via, Addr    string
	Started, Expires string
	StartedAt        time.Time
	Current          bool // the admin's own, in this browser
}

// adminUser shows one user: their roles and live sign-ins.
func (s *site) adminUser(w http.ResponseWriter, r *http.Request) {
	me := s.requireAdmin(w, r)
	if me == nil {
		return
	}
	u, list, err := s.adminTarget(r)
	if err != nil {
		s.adminFailed(w, r, err, "/admin")
		return
	}
	data := struct {
		User    adminRow
		SignIns []signInRow
	}{User: s.adminRow(r, u, me.ID, r.URL.Path)}
	data.User.Detail = true
	current := signInFrom(r.Context()).ID
	for _, si := range list {
		via := "Browser"
		if si.Via == domain.SignInAPI {
			via = "API token"
		}
		data.SignIns = append(data.SignIns, signInRow{ID: si.ID, Via: via, Addr: si.Addr, StartedAt: si.StartedAt,
			Started: ago(si.StartedAt, s.now()), Expires: si.ExpiresAt.UTC().Format("Jan 2, 15:04 MST"), Current: si.ID == current})
	}
	s.view.render(w, http.StatusOK, "admin_user", s.page(w, r, u.Username, "admin", data))
}

// adminTarget is the user the path names and their live sign-ins.
func (s *site) adminTarget(r *http.Request) (accounts.User, []accounts.SignInInfo, error) {
	id, err := parseUserID(chi.URLParam(r, "id"))
	if err != nil {
		return accounts.User{}, nil, err
	}
	u, err := s.users.Get(r.Context(), id)
	if err != nil {
		return u, nil, err
	}
	list, err := s.users.SignIns(r.Context(), id)
	return u, list, err
}

// adminChangeRole grants or revokes a role (form: role, op=grant|revoke,
// back), then returns to the page the form was on.
func (s *site) adminChangeRole(w http.ResponseWriter, r *http.Request) {
	me := s.requireAdmin(w, r)
	if me == nil {
		return
	}
	id, err := parseUserID(chi.URLParam(r, "id"))
	back := adminBack(r, id)
	var role domain.Role
	if err == nil {
		role, err = parseRole(r.PostFormValue("role"))
	}
	op := r.PostFormValue("op")
	if err == nil && op != "grant" && op != "revoke" {
		err = badRequest("op must be grant or revoke")
	}
	if err == nil {
		err = s.adminSpend(w, r, me.ID)
	}
	if err == nil {
		_, err = changeRole(r.Context(), s.users, id, role, op == "grant", me.ID, metadata(r, me.ID))
	}
	if err != nil {
		s.adminFailed(w, r, err, back)
		return
	}
	if op == "grant" {
		s.setFlash(w, r, "role_granted")
	} else {
		s.setFlash(w, r, "role_revoked")
	}
	if id == me.ID && role == domain.RoleAdmin && op == "revoke" {
		back = "/account" // the admin pages are no longer theirs
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// adminEndSignIns ends one of the user's sign-ins (form: sign_in), or all
// of them (sign_in empty); their open pages and sockets close at once.
func (s *site) adminEndSignIns(w http.ResponseWriter, r *http.Request) {
	me := s.requireAdmin(w, r)
	if me == nil {
		return
	}
	id, err := parseUserID(chi.URLParam(r, "id"))
	back := adminBack(r, id)
	signIn := r.PostFormValue("sign_in")
	if err == nil && len(signIn) > 64 {
		err = domain.ErrNotFound
	}
	if err == nil {
		err = s.adminSpend(w, r, me.ID)
	}
	if err == nil {
		err = s.users.EndSignIns(r.Context(), id, signIn, me.ID, metadata(r, me.ID))
	}
	if err != nil {
		s.adminFailed(w, r, err, back)
		return
	}
	if signIn == "" {
		s.setFlash(w, r, "sign_ins_ended")
	} else {
		s.setFlash(w, r, "sign_in_ended")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// adminSpend takes a token for one admin change, or refuses it.
func (s *site) adminSpend(w http.ResponseWriter, r *http.Request, adminID int64) error {
	if s.allowAdmin == nil {
		return nil
	}
	if ok, wait := s.allowAdmin(r, adminID); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		return &requestError{http.StatusTooManyRequests, "too many changes in a row: wait a minute, then try again"}
	}
	return nil
}

// adminBack is where a form returns to: its back field when that is an
// admin page, else the user's page.
func adminBack(r *http.Request, id int64) string {
	if back := localPath(r.PostFormValue("back")); back == "/admin" || strings.HasPrefix(back, "/admin?") || strings.HasPrefix(back, "/admin/") {
		return back
	}
	return "/admin/users/" + strconv.FormatInt(id, 10)
}

// adminFailed shows why an admin's request was refused, with a way back.
func (s *site) adminFailed(w http.ResponseWriter, r *http.Request, err error, back string) {
	status, heading, msg := http.StatusInternalServerError, "", ""
	var re *requestError
	switch {
	case errors.As(err, &re):
		status, heading, msg = re.status, "That change was refused", capitalize(re.msg)+"."
	case errors.Is(err, domain.ErrNotFound):
		status, heading, msg = http.StatusNotFound, "Not found", "There is no such user, or that sign-in has already ended."
	default:
		s.internalError(w, r, err)
		return
	}
	p := s.page(w, r, heading, "error", errorPage{Status: status, Heading: heading, Message: msg, Back: back, BackLabel: "Back to the admin page"})
	s.view.render(w, status, "error", p)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
