package web

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestReplayInBrowser plays a video's history back in headless Chromium:
// the page loads the timeline with its sign-in cookie, plays it at 32x to the
// end, and seeks back to the start; nothing the CSP forbids runs.
func TestReplayInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	e := newAnalysisEnv(t)
	alice := c.person(t, "alice")
	alice.open(e.url + "/signin")
	if st := alice.fill([][2]string{{"#username", "alice"}, {"#password", "password-alice-1"}}, "main form button[type=submit]"); st != 200 {
		alice.fail("sign in", errStatus(st))
	}
	// The whole history in one page, then two events a page: the same
	// replay either way.
	for _, page := range []string{"", "?page=2"} {
		replayOnce(alice, e.url+"/replay/1"+page)
	}
	if con := alice.consoleText(); strings.Contains(con, "Content Security Policy") || strings.Contains(con, "Refused") {
		alice.fail("console", errText(con))
	}
}

// replayOnce opens the replay at url, plays it at 32x to the end, checks
// what it shows, and seeks back to the start.
func replayOnce(alice *tab, url string) {
	if st := alice.open(url); st != 200 {
		alice.fail("open the replay", errStatus(st))
	}
	alice.waitFor("the history", `document.querySelector("#replay-status").textContent.includes("6 events")`)
	if got := text(alice, "#replay-annotation-count"); got != "0" {
		alice.fail("before playing", errText("annotations "+got))
	}
	alice.do("play at 32x",
		chromedp.SetValue(chromedp.CSS("#replay-speed"), "32"),
		chromedp.Click(chromedp.CSS("#replay-play")))
	alice.waitFor("the end", `document.querySelector("#replay-play").textContent === "Play" && document.querySelectorAll("#replay-log li").length === 6`)
	if got := text(alice, "#replay-annotation-count"); got != "3" {
		alice.fail("after playing", errText("annotations "+got))
	}
	if got := text(alice, "#replay-viewer-count"); got != "0" {
		alice.fail("after playing", errText("viewers "+got))
	}
	anns := eval[[]string](alice, `Array.from(document.querySelectorAll("#replay-annotations li")).map(li => li.textContent)`)
	if len(anns) != 3 || !strings.Contains(anns[0], "=1+2") || !strings.Contains(anns[1], "<script>alert(1)</script>") || !strings.Contains(anns[2], "first, edited") {
		alice.fail("annotations in video-time order, as text", errText(strings.Join(anns, " | ")))
	}
	if n := eval[int](alice, `document.querySelectorAll("#replay-annotations script").length`); n != 0 {
		alice.fail("markup", errText("an annotation became a script element"))
	}
	alice.do("seek to the start", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#replay-seek"); s.value = "0"; s.dispatchEvent(new Event("input")); })()`))
	if got := text(alice, "#replay-annotation-count"); got != "0" {
		alice.fail("after seeking to the start", errText("annotations "+got))
	}
	// Seeking past what is loaded starts from the state as of then.
	alice.do("seek to the end", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#replay-seek"); s.value = "1000"; s.dispatchEvent(new Event("input")); })()`))
	alice.waitFor("the state at the end", `document.querySelector("#replay-annotation-count").textContent === "3" && document.querySelector("#replay-viewer-count").textContent === "0"`)
	if anns := eval[[]string](alice, `Array.from(document.querySelectorAll("#replay-annotations li")).map(li => li.textContent)`); len(anns) != 3 || !strings.Contains(anns[2], "first, edited") {
		alice.fail("annotations after seeking to the end", errText(strings.Join(anns, " | ")))
	}
}
