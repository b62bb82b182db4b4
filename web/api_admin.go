package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/internal/limit"
)

// UserAdmin is what the admin page and API need of the accounts (an
// *accounts.Service): list users, change roles, end sign-ins. Each change
// is an event naming the admin who made it.
type UserAdmin interface {
	// Users returns a page of users in id order whose name holds q.Text.
	Users(ctx context.Context, q accounts.UserQuery) accounts.UserPage
	Grant(ctx context.Context, userID int64, role domain.Role, by int64, note string, meta eventstore.Metadata) error
	// Revoke fails with accounts.ErrRoleNotHeld, and for the last
	// admin's admin role with accounts.ErrLastAdmin.
	Revoke(ctx context.Context, userID int64, role domain.Role, by int64, note string, meta eventstore.Metadata) error
	// SignIns lists the user's live sign-ins, newest first.
	SignIns(ctx context.Context, userID int64) ([]accounts.SignInInfo, error)
	// EndSignIns ends one live sign-in of the user (domain.ErrNotFound
	// if it is not one), or all of them for an empty id.
	EndSignIns(ctx context.Context, userID int64, signIn string, by int64, meta eventstore.Metadata) error
	// Erase erases a user's personal data for good (domain.ErrNotFound
	// for one unknown or erased already).
	Erase(ctx context.Context, userID, by int64, reason string, meta eventstore.Metadata) error
}

// grantable are the roles an admin grants and revokes; everyone is a
// viewer.
var grantable = []domain.Role{domain.RoleAnalyst, domain.RoleAuditor, domain.RoleModerator, domain.RoleAdmin}

// Role changes and ended sign-ins are events in the permanent log: each
// admin gets one a second, a burst of 30, and each address three times
// that, so that a stolen admin session cannot flood the log.
const (
	adminRate  = 1.0
	adminBurst = 30
)

func newAdminLimits() limit.UserAndAddr {
	return limit.NewUserAndAddr(adminRate, adminBurst, 3*adminRate, 3*adminBurst, 0)
}

// allowAdmin spends one token of the admin's bucket and one of the
// address's, and says how long to wait when either is empty.
func (s *Server) allowAdmin(r *http.Request, userID int64) (bool, time.Duration) {
	return s.adminLimits.Reserve(userID, limit.AddrKey(r.RemoteAddr), time.Now())
}

var searchRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{0,30}$`)

// userQuery reads ?q= (part of a username), ?limit= and ?after= (the id
// of the last user of the previous page).
func userQuery(q url.Values) (accounts.UserQuery, error) {
	uq := accounts.UserQuery{Text: strings.TrimSpace(q.Get("q")), Limit: defaultPage}
	if !searchRe.MatchString(uq.Text) {
		return uq, badRequest("q must be part of a username: at most 30 letters, digits, '_', '.' or '-'")
	}
	if s := strings.TrimSpace(q.Get("limit")); s != "" || q.Has("limit") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListPage {
			return uq, badRequest(fmt.Sprintf("limit must be a whole number from 1 to %d", maxListPage))
		}
		uq.Limit = n
	}
	if s := strings.TrimSpace(q.Get("after")); s != "" || q.Has("after") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return uq, badRequest("after must be the id of a user: a whole number from 1")
		}
		uq.After = n
	}
	return uq, nil
}

// parseRole reads a role an admin may grant or revoke.
func parseRole(s string) (domain.Role, error) {
	for _, r := range grantable {
		if string(r) == s {
			return r, nil
		}
	}
	return "", badRequest("role must be analyst, auditor or admin")
}

// parseUserID reads a user id from a path; a malformed one names nobody.
func parseUserID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.ErrNotFound
	}
	return id, nil
}

var errLastAdmin = &requestError{http.StatusConflict, "the last admin keeps the admin role: grant it to someone else first"}

// changeRole grants (grant) or revokes role of the user for admin by. It
// changes nothing, and records nothing, when the user already has (or
// lacks) the role, so that repeating a request is harmless.
func changeRole(ctx context.Context, users Accounts, id int64, role domain.Role, grant bool, by int64, meta eventstore.Metadata) (accounts.User, error) {
	u, err := users.Get(ctx, id)
	if err != nil {
		return u, err
	}
	switch {
	case grant && !u.Roles[role]:
		err = users.Grant(ctx, id, role, by, "", meta)
	case !grant && u.Roles[role]:
		err = users.Revoke(ctx, id, role, by, "", meta)
	}
	switch {
	case errors.Is(err, accounts.ErrLastAdmin):
		return u, errLastAdmin
	case errors.Is(err, accounts.ErrRoleNotHeld): // revoked meanwhile
		err = nil
	case err != nil:
		return u, err
	}
	return users.Get(ctx, id)
}

// mountAdminAPI mounts the admins' API under /api/admin: bearer tokens
// only, since its writes carry no CSRF token.
func (s *Server) mountAdminAPI(r chi.Router) {
	r.Route("/admin/users", func(r chi.Router) {
		r.Get("/", s.handleAdminUsers)
		r.Put("/{id}/roles/{role}", s.handleAdminRole(true))
		r.Delete("/{id}/roles/{role}", s.handleAdminRole(false))
		r.Get("/{id}/sign-ins", s.handleAdminSignIns)
		r.Delete("/{id}/sign-ins", s.handleAdminEndSignIns)
		r.Delete("/{id}/sign-ins/{signIn}", s.handleAdminEndSignIns)
		r.Delete("/{id}", s.handleAdminErase) // erase.go
	})
}

// adminBearer authenticates the request and checks that its user is an
// admin, before anything else is looked at.
func (s *Server) adminBearer(r *http.Request) (accounts.User, error) {
	u, err := s.bearer(r)
	if err == nil && !u.Can(domain.RoleAdmin) {
		err = domain.ErrForbidden
	}
	return u, err
}

type adminUserJSON struct {
	ID           int64         `json:"id"`
	Username     string        `json:"username"`
	Roles        []domain.Role `json:"roles"`
	RegisteredAt time.Time     `json:"registered_at"`
}

func toAdminUserJSON(u accounts.User) adminUserJSON {
	out := adminUserJSON{ID: u.ID, Username: u.Username, Roles: []domain.Role{}, RegisteredAt: u.RegisteredAt}
	for _, r := range grantable {
		if u.Roles[r] {
			out.Roles = append(out.Roles, r)
		}
	}
	return out
}

// handleAdminUsers is GET /api/admin/users?q=&limit=&after=.
func (s *Server) handleAdminUsers(w http.ResponseWriter, r *http.Request) {
	_, err := s.adminBearer(r)
	var q accounts.UserQuery
	if err == nil {
		q, err = userQuery(r.URL.Query())
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	p := s.deps.Accounts.Users(r.Context(), q)
	out := make([]adminUserJSON, len(p.Users))
	for i, u := range p.Users {
		out[i] = toAdminUserJSON(u)
	}
	var next *int64
	if p.Next != 0 {
		next = &p.Next
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "next": next})
}

// handleAdminRole is PUT (grant) or DELETE (revoke)
// /api/admin/users/{id}/roles/{role}: the user as it is after.
func (s *Server) handleAdminRole(grant bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		admin, err := s.adminBearer(r)
		var id int64
		var role domain.Role
		if err == nil {
			id, err = parseUserID(chi.URLParam(r, "id"))
		}
		if err == nil {
			role, err = parseRole(chi.URLParam(r, "role"))
		}
		if err == nil {
			err = s.adminSpend(w, r, admin.ID)
		}
		var u accounts.User
		if err == nil {
			u, err = changeRole(r.Context(), s.deps.Accounts, id, role, grant, admin.ID, requestMeta(r, admin.ID))
		}
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"user": toAdminUserJSON(u)})
	}
}

// adminSpend takes a token for one admin change, or refuses it with 429.
func (s *Server) adminSpend(w http.ResponseWriter, r *http.Request, adminID int64) error {
	if ok, wait := s.allowAdmin(r, adminID); !ok {
		secs := limit.RetryAfter(wait)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return &requestError{http.StatusTooManyRequests, "too many admin changes: try again in " + plural(secs, "second")}
	}
	return nil
}

type signInJSON struct {
	ID        string    `json:"id"`
	Via       string    `json:"via"`
	Addr      string    `json:"addr,omitempty"`
	StartedAt time.Time `json:"started_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// handleAdminSignIns is GET /api/admin/users/{id}/sign-ins: the user's
// live sign-ins, newest first.
func (s *Server) handleAdminSignIns(w http.ResponseWriter, r *http.Request) {
	_, err := s.adminBearer(r)
	var id int64
	if err == nil {
		id, err = parseUserID(chi.URLParam(r, "id"))
	}
	var list []accounts.SignInInfo
	if err == nil {
		list, err = s.deps.Accounts.SignIns(r.Context(), id)
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	out := make([]signInJSON, len(list))
	for i, si := range list {
		out[i] = signInJSON{ID: si.ID, Via: si.Via, Addr: si.Addr, StartedAt: si.StartedAt, ExpiresAt: si.ExpiresAt}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sign_ins": out})
}

// handleAdminEndSignIns is DELETE /api/admin/users/{id}/sign-ins[/{signIn}]:
// the sign-in, or every one of the user's, ends at once, and the sockets
// opened with them close.
func (s *Server) handleAdminEndSignIns(w http.ResponseWriter, r *http.Request) {
	admin, err := s.adminBearer(r)
	var id int64
	if err == nil {
		id, err = parseUserID(chi.URLParam(r, "id"))
	}
	if err == nil {
		err = s.adminSpend(w, r, admin.ID)
	}
	if err == nil {
		err = s.deps.Accounts.EndSignIns(r.Context(), id, chi.URLParam(r, "signIn"), admin.ID, requestMeta(r, admin.ID))
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
