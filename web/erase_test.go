package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// A user erases their account from the settings page: a wrong password
// is refused on the page, the right one signs them out for good.
func TestEraseAccountPage(t *testing.T) {
	s := newTestServer(t)
	b := s.signedIn(t, "leaver", "password-123", true)
	resp, body := b.get("/account")
	expect(t, resp, body, http.StatusOK, "Erase your account", `action="/account/erase"`)
	resp, body = b.submit("/account", "/account/erase", url.Values{"password": {"wrong-password-1"}})
	expect(t, resp, body, http.StatusUnprocessableEntity, "That password is wrong.")
	resp, body = b.submit("/account", "/account/erase", url.Values{"password": {"password-123"}})
	expect(t, resp, body, http.StatusSeeOther)
	if resp, _ = b.get("/account"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after erasing, /account answers %d; want a redirect to sign in", resp.StatusCode)
	}
	if code, _ := s.api(t, http.MethodPost, "/api/sign-ins", "", map[string]string{"username": "leaver", "password": "password-123"}); code != http.StatusUnauthorized {
		t.Fatalf("the erased user signs in: %d", code)
	}

}

// An admin erases carol from the admin page: the admin's list names her
// "erased user #N", and the auditors' trail keeps her annotations'
// moments with "[erased]" where their text was.
func TestAdminErasePage(t *testing.T) {
	a := newAdminAPI(t)
	carol := strconv.FormatInt(a.ids["carol"], 10)
	code, trail := a.call(http.MethodGet, "/api/audit/annotations", "bob")
	if code != http.StatusOK || !strings.Contains(trail, "Watch the left side here") {
		t.Fatalf("the trail before: %d %s", code, trail)
	}
	dave := a.ts.signedIn(t, "dave", "password-dave-1", false)
	resp, body := dave.get("/admin/users/" + carol)
	expect(t, resp, body, http.StatusOK, `action="/admin/users/`+carol+`/erase"`)
	resp, body = dave.submit("/admin/users/"+carol, "/admin/users/"+carol+"/erase", url.Values{"reason": {"ticket 42"}})
	expect(t, resp, body, http.StatusSeeOther)
	resp, body = dave.get("/admin")
	expect(t, resp, body, http.StatusOK, "erased user #"+carol)
	a.sync()
	code, trail = a.call(http.MethodGet, "/api/audit/annotations", "bob")
	if code != http.StatusOK || strings.Contains(trail, "Watch the left side") || strings.Contains(trail, `"carol"`) || strings.Count(trail, "[erased]") < 3 {
		t.Fatalf("the trail after the erasure: %d %s", code, trail)
	}
}
