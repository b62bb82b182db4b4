package web

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestWatchPageRanges: a viewer marks a range in the composer and posts
// it; the panel shows its stretch, and the notes strip under the player
// shows a bar for it beside the marker of a note at an instant, placed by
// time over the video's 30 seconds. Clicking a marker seeks the player
// there, and the range is highlighted while playback is inside it. "Show
// all" lists the notes playback has not reached.
func TestWatchPageRanges(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	base := newTestServer(t).URL // its media file lasts 30 s
	ann := c.person(t, "ann")
	register(ann, base, "ann")
	url := addVideo(ann, base, "Thirty seconds", base+mediaPath)
	watch(ann, url, false)
	ann.waitFor("the duration known", `document.getElementById("watch").dataset.durationMs === "30000"`)

	seek := func(s string) {
		eval[chromedp.Void](ann, `document.querySelector("#player video").currentTime = `+s)
		ann.waitFor("the seek to "+s, `Math.abs(document.querySelector("#player video").currentTime - `+s+`) < 0.01`)
	}
	seek("6")
	ann.do("mark the range's start", chromedp.Click(chromedp.CSS("#range-start")))
	seek("12")
	ann.waitFor("the composer to show the range", `document.getElementById("post-at").textContent === "0:06–0:12"`)
	_, at := post(ann, "The whole chorus")
	if at != 6000 {
		ann.fail("the range", errText("posted at "+jsonText(at)+", want 6000"))
	}
	if got := text(ann, "#annotations .annotation.is-range .ann-time"); got != "0:06–0:12" {
		ann.fail("the range in the panel", errText(got))
	}
	seek("3")
	post(ann, "A single moment")

	// The strip: a bar from 20% to 40% of its width, a marker at 10%.
	ann.waitFor("the strip", `document.querySelectorAll("#notes-strip .strip-range").length === 1 && document.querySelectorAll("#notes-strip .strip-mark").length === 1`)
	geo := eval[[]float64](ann, `(() => {
		let s = document.getElementById("notes-strip").getBoundingClientRect()
		let r = document.querySelector("#notes-strip .strip-range").getBoundingClientRect()
		let m = document.querySelector("#notes-strip .strip-mark").getBoundingClientRect()
		return [(r.left - s.left) / s.width, r.width / s.width, (m.left + m.width / 2 - s.left) / s.width]
	})()`)
	if geo[0] < 0.19 || geo[0] > 0.21 || geo[1] < 0.19 || geo[1] > 0.21 || geo[2] < 0.09 || geo[2] > 0.11 {
		ann.fail("the strip's geometry", errText("range from "+jsonText(geo[0])+" wide "+jsonText(geo[1])+", marker at "+jsonText(geo[2])+"; want 0.2, 0.2 and 0.1"))
	}

	// Clicking the range's bar seeks to its start, where it is current.
	ann.do("click the range's bar", chromedp.Click(chromedp.CSS("#notes-strip .strip-range")))
	ann.waitFor("the player at the range's start", `Math.abs(document.querySelector("#player video").currentTime - 6) < 0.01`)
	ann.waitFor("the range highlighted", `document.querySelector("#annotations .annotation.is-range").classList.contains("is-current")`)
	ann.do("click the marker", chromedp.Click(chromedp.CSS("#notes-strip .strip-mark")))
	ann.waitFor("the player at the marker", `Math.abs(document.querySelector("#player video").currentTime - 3) < 0.01`)

	// bob arrives at the start: the notes are later, until Show all.
	bob := c.person(t, "bob")
	register(bob, base, "bob")
	watch(bob, url, false)
	bob.waitFor("both notes known", `document.querySelectorAll("#annotations .annotation").length === 2 && document.querySelectorAll("#notes-strip button").length === 2`)
	if n := eval[int](bob, `[...document.querySelectorAll("#annotations .annotation")].filter(li => !li.hidden).length`); n != 0 {
		bob.fail("before playback", errText(jsonText(n)+" notes shown"))
	}
	bob.do("show all", chromedp.Click(chromedp.CSS("#show-all")))
	bob.waitFor("all notes shown", `[...document.querySelectorAll("#annotations .annotation")].every(li => !li.hidden)`)
}
