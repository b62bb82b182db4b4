package web

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/eventstore"
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

	// On a phone, with a range marked, nothing sticks out.
	bob.resize(phone)
	eval[chromedp.Void](bob, `document.querySelector("#player video").currentTime = 2`)
	bob.waitFor("the seek to 2", `Math.abs(document.querySelector("#player video").currentTime - 2) < 0.01`)
	bob.do("mark a range on a phone", chromedp.Click(chromedp.CSS("#range-start")))
	eval[chromedp.Void](bob, `document.querySelector("#player video").currentTime = 25`)
	bob.waitFor("the range in the composer", `document.getElementById("post-at").textContent === "0:02–0:25"`)
	fits(bob, phone, "the watch page with a range marked")
	inView(bob, phone, "#annotation-submit", "the watch page with a range marked")
}

// TestWatchPageDensityAndFollow: with more than 200 notes the strip shows
// their density, still clickable to seek; Follow playback keeps the
// current note in view, and scrolling the list by hand turns it off.
func TestWatchPageDensityAndFollow(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	e := newSiteEnv(t) // carol's three notes, at 3, 7 and 11 s
	notes := annotations.New(e.store, e.videos, nil)
	for i := range 250 { // one every 100 ms from 0 to 25 s
		if _, err := notes.PostRange(t.Context(), e.video.ID, e.ids["carol"], "carol", fmt.Sprintf("note %d", i), int64(100*i), 0, eventstore.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	dave := c.person(t, "dave")
	e.signIn(dave, "dave")
	watch(dave, e.url+watchURL(e.video), false)
	dave.waitFor("every note", `document.querySelectorAll("#annotations .annotation").length === 253`)
	dave.waitFor("the density strip", `document.getElementById("notes-strip").classList.contains("is-density") && document.querySelectorAll("#notes-strip .strip-bucket").length > 50`)
	if n := eval[int](dave, `document.querySelectorAll("#notes-strip .strip-mark, #notes-strip .strip-range").length`); n != 0 {
		dave.fail("the density strip", errText(jsonText(n)+" markers beside the buckets"))
	}
	at := eval[float64](dave, `(b => { b.click(); return Number(b.dataset.at) / 1000 })([...document.querySelectorAll("#notes-strip .strip-bucket")].at(-20))`)
	dave.waitFor("the player at the bucket", fmt.Sprintf(`Math.abs(document.querySelector("#player video").currentTime - %g) < 0.01`, at))

	dave.do("follow playback", chromedp.Click(chromedp.CSS("#follow-playback")))
	eval[chromedp.Void](dave, `document.querySelector("#player video").currentTime = 20`)
	inView := `(() => {
		let list = document.getElementById("annotations").getBoundingClientRect()
		let cur = [...document.querySelectorAll("#annotations .annotation.is-current")][0]
		if(!cur){ return false }
		let r = cur.getBoundingClientRect()
		return r.top >= list.top && r.bottom <= list.bottom
	})()`
	dave.waitFor("the current note in view", `document.getElementById("annotations").scrollTop > 0 && `+inView)
	eval[chromedp.Void](dave, `document.getElementById("annotations").dispatchEvent(new WheelEvent("wheel", {deltaY: -100, bubbles: true}))`)
	dave.waitFor("follow turned off", `!document.getElementById("follow-playback").checked`)
}
