package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/videologue/videologue/domain"
)

// TestAdminPages: the admin pages are the admins'; their forms need the
// CSRF token, change roles as events naming the admin, refuse to leave
// the site without an admin, and end a user's sign-ins.
func TestAdminPages(t *testing.T) {
	a := newAdminAPI(t)
	carolID := strconv.FormatInt(a.ids["carol"], 10)
	carolPage := "/admin/users/" + carolID

	anon := a.ts.browser(t)
	resp, body := anon.get("/admin")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?next=%2Fadmin" {
		t.Fatalf("anonymous: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	carol := a.ts.signedIn(t, "carol", "password-carol-1", false)
	for _, path := range []string{"/admin", carolPage} {
		resp, body = carol.get(path)
		expect(t, resp, body, http.StatusForbidden, "This page is for admins")
	}
	resp, body = carol.submit("/account", "/admin/users/"+carolID+"/roles", url.Values{"role": {"admin"}, "op": {"grant"}})
	expect(t, resp, body, http.StatusForbidden)
	if u, _ := a.users.Get(t.Context(), a.ids["carol"]); u.Roles[domain.RoleAdmin] {
		t.Fatal("carol made herself admin")
	}

	dave := a.ts.signedIn(t, "dave", "password-dave-1", false)
	resp, body = dave.get("/admin")
	expect(t, resp, body, http.StatusOK, `data-user="alice"`, `data-user="carol"`, `href="/admin"`)
	resp, body = dave.get("/admin?q=CAR")
	expect(t, resp, body, http.StatusOK, `data-user="carol"`)
	if strings.Contains(body, `data-user="alice"`) {
		t.Fatal("search CAR lists alice")
	}
	resp, body = dave.get("/admin?q=%3Cb%3E")
	expect(t, resp, body, http.StatusBadRequest, "Q must be part of a username")
	resp, body = dave.get("/admin?limit=1")
	expect(t, resp, body, http.StatusOK, `rel="next"`)

	resp, body = dave.post("/admin/users/"+carolID+"/roles", url.Values{"role": {"analyst"}, "op": {"grant"}})
	expect(t, resp, body, http.StatusForbidden) // no CSRF token
	resp, body = dave.submit("/admin?q=carol", "/admin/users/"+carolID+"/roles",
		url.Values{"role": {"analyst"}, "op": {"grant"}, "back": {"/admin?q=carol"}})
	expect(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/admin?q=carol" {
		t.Fatalf("back to %q", loc)
	}
	if u, _ := a.users.Get(t.Context(), a.ids["carol"]); !u.Roles[domain.RoleAnalyst] {
		t.Fatal("the grant did not take")
	}
	if ev := a.lastUsersEvent(); ev.Type != domain.TypeRoleGranted || !strings.Contains(string(ev.Data), `"granted_by":`+strconv.FormatInt(a.ids["dave"], 10)) {
		t.Fatalf("recorded %s %s", ev.Type, ev.Data)
	}
	resp, body = dave.submit("/admin", "/admin/users/"+strconv.FormatInt(a.ids["dave"], 10)+"/roles",
		url.Values{"role": {"admin"}, "op": {"revoke"}, "back": {"https://evil.example/"}})
	expect(t, resp, body, http.StatusConflict, "The last admin keeps the admin role", `href="/admin/users/`)
	resp, body = dave.submit("/admin", "/admin/users/"+carolID+"/roles", url.Values{"role": {"viewer"}, "op": {"grant"}})
	expect(t, resp, body, http.StatusBadRequest, "Role must be analyst, auditor or admin")

	resp, body = dave.get(carolPage)
	expect(t, resp, body, http.StatusOK, "End this sign-in", "End all sign-ins of carol")
	if n := strings.Count(body, `class="admin-signin"`); n != 2 { // the API's and the browser's
		t.Fatalf("carol's page lists %d sign-ins", n)
	}
	resp, body = dave.submit(carolPage, carolPage+"/sign-ins/end", url.Values{})
	expect(t, resp, body, http.StatusSeeOther)
	if who := carol.signedInAs(); who != "" {
		t.Fatalf("carol's browser still signed in as %q", who)
	}
	if who := dave.signedInAs(); who != "dave" {
		t.Fatalf("dave's browser signed in as %q", who)
	}
	resp, body = dave.get(carolPage)
	expect(t, resp, body, http.StatusOK, "carol is not signed in anywhere")
	resp, body = dave.submit(carolPage, carolPage+"/sign-ins/end", url.Values{"sign_in": {"not-a-sign-in"}})
	expect(t, resp, body, http.StatusNotFound, "already ended")
}
