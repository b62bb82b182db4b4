package web

import (
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestNavigationByRole signs each role in and reads the main navigation:
// analysts see Analysis, auditors Audit, admins both and Admin, viewers neither; the
// links lead to pages that open, on a phone as on a desktop.
func TestNavigationByRole(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	e := newSiteEnv(t)
	want := map[string][]string{
		"carol": {"Videos", "My videos"},
		"alice": {"Videos", "My videos", "Analysis"},
		"bob":   {"Videos", "My videos", "Audit"},
		"dave":  {"Videos", "My videos", "Analysis", "Audit", "Moderation", "Admin"},
	}
	for _, name := range []string{"carol", "alice", "bob", "dave"} {
		t.Run(name, func(t *testing.T) {
			tb := c.person(t, name)
			tb.resize(phone)
			e.signIn(tb, name)
			got := eval[[]string](tb, `[...document.querySelectorAll("nav.nav a")].map(a => a.textContent.trim())`)
			if !slices.Equal(got, want[name]) {
				tb.fail("navigation", errText(strings.Join(got, ", ")+"; want "+strings.Join(want[name], ", ")))
			}
			tb.open(e.url + watchURL(e.video))
			replayLink := eval[int](tb, `document.querySelectorAll(".video-meta a[href^='/replay/']").length`)
			if analyst := slices.Contains(want[name], "Analysis"); analyst != (replayLink == 1) {
				tb.fail("the watch page's replay link", errText(jsonText(replayLink)+" links"))
			}
			if slices.Contains(want[name], "Analysis") {
				tb.navigateBy("open Analysis", chromedp.Click(chromedp.CSS(`nav.nav a[href="/replay"]`)))
				if cur := text(tb, `nav.nav a[aria-current="page"]`); cur != "Analysis" {
					tb.fail("current section", errText(cur))
				}
				fits(tb, phone, "/replay")
				if st := tb.navigateBy("open a replay", chromedp.Click(chromedp.CSS(`.card[data-video-id="`+jsonText(e.video.ID)+`"] a`))); st != 200 {
					tb.fail("open a replay", errStatus(st))
				}
				tb.waitFor("the replay", `document.querySelector("#replay-status").textContent.includes("events")`)
			}
			if slices.Contains(want[name], "Audit") {
				if st := tb.navigateBy("open Audit", chromedp.Click(chromedp.CSS(`nav.nav a[href="/audit"]`))); st != 200 {
					tb.fail("open Audit", errStatus(st))
				}
				if n := eval[int](tb, `document.querySelectorAll(".audit-table tbody tr").length`); n != 3 {
					tb.fail("the audit trail", errText(jsonText(n)+" rows"))
				}
			}
		})
	}
}
