package web

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAdminPageInTheBrowser: on a phone, an admin finds carol on the
// admin page, makes her an analyst, and she then sees the Analysis link;
// the admin ends her sign-in, and her open video says she is signed out.
func TestAdminPageInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	e := newSiteEnv(t)

	carol := c.person(t, "carol")
	carol.resize(phone)
	e.signIn(carol, "carol")
	nav := func() []string {
		return eval[[]string](carol, `[...document.querySelectorAll("nav.nav a")].map(a => a.textContent.trim())`)
	}
	if got := nav(); slices.Contains(got, "Analysis") || slices.Contains(got, "Admin") {
		t.Fatalf("carol's navigation before: %v", got)
	}
	carol.open(e.url + watchURL(e.video))
	carol.waitFor("carol's video live", `document.getElementById("connection")?.dataset.state === "connected"`)

	dave := c.person(t, "dave")
	dave.resize(phone)
	e.signIn(dave, "dave")
	if st := dave.navigateBy("open Admin", chromedp.Click(chromedp.CSS(`nav.nav a[href="/admin"]`))); st != 200 {
		dave.fail("open Admin", errStatus(st))
	}
	fits(dave, phone, "/admin")
	if st := dave.fill([][2]string{{"#admin-q", "caro"}}, ".admin-search button"); st != 200 {
		dave.fail("search", errStatus(st))
	}
	if got := eval[[]string](dave, `[...document.querySelectorAll(".admin-user")].map(li => li.dataset.user)`); !slices.Equal(got, []string{"carol"}) {
		dave.fail("search caro", errText(strings.Join(got, ", ")))
	}
	carolCard := `.admin-user[data-user="carol"] `
	if st := dave.navigateBy("grant analyst", chromedp.Click(chromedp.CSS(carolCard+`button[data-role-op="grant-analyst"]`))); st != 200 {
		dave.fail("grant analyst", errStatus(st))
	}
	if !strings.Contains(text(dave, ".flash"), "Role granted") || eval[int](dave, `document.querySelectorAll(`+js(carolCard+`.admin-role.held`)+`).length`) != 1 {
		dave.fail("after the grant", errText(text(dave, "main")))
	}
	fits(dave, phone, "/admin?q=caro")

	carol.open(e.url + "/videos")
	if got := nav(); !slices.Contains(got, "Analysis") || slices.Contains(got, "Admin") {
		t.Fatalf("carol's navigation after the grant: %v", got)
	}
	carol.open(e.url + watchURL(e.video))
	carol.waitFor("carol's video live again", `document.getElementById("connection")?.dataset.state === "connected"`)

	if st := dave.navigateBy("open carol's page", chromedp.Click(chromedp.CSS(carolCard+`a.button`))); st != 200 {
		dave.fail("open carol's page", errStatus(st))
	}
	fits(dave, phone, fmt.Sprintf("/admin/users/%d", e.ids["carol"]))
	if n := eval[int](dave, `document.querySelectorAll(".admin-signin").length`); n != 1 {
		dave.fail("carol's sign-ins", errText(jsonText(n)+" listed"))
	}
	if st := dave.navigateBy("end carol's sign-in", chromedp.Click(chromedp.CSS(`.admin-signin form button`))); st != 200 {
		dave.fail("end carol's sign-in", errStatus(st))
	}
	if !strings.Contains(text(dave, ".flash"), "Sign-in ended") {
		dave.fail("after ending", errText(text(dave, "main")))
	}
	carol.waitFor("carol's video signed out", `document.getElementById("connection")?.textContent === "Signed out"`)
	carol.open(e.url + "/videos")
	if n := eval[int](carol, `document.querySelectorAll(".whoami").length`); n != 0 {
		t.Fatal("carol's browser is still signed in")
	}
}
