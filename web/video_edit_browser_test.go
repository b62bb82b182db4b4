package web

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestEditAndDeleteVideoInBrowser: the owner edits a video from its page
// and then deletes it; someone else gets no button and is refused the
// form; the deleted video's page says so and it leaves the list.
func TestEditAndDeleteVideoInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	e := newSiteEnv(t)
	id := strconv.FormatInt(e.video.ID, 10)

	alice := c.person(t, "alice")
	e.signIn(alice, "alice")
	alice.open(e.url + watchURL(e.video))
	if n := eval[int](alice, `document.querySelectorAll("#video-edit-link").length`); n != 0 {
		alice.fail("someone else's video", errText("has an edit link"))
	}
	if st := alice.open(e.url + "/videos/" + id + "/edit"); st != 403 {
		alice.fail("someone else's edit form", errStatus(st))
	}

	carol := c.person(t, "carol")
	carol.resize(phone)
	e.signIn(carol, "carol")
	carol.open(e.url + watchURL(e.video))
	if st := carol.navigateBy("open the edit form", chromedp.Click(chromedp.CSS("#video-edit-link"))); st != 200 {
		carol.fail("open the edit form", errStatus(st))
	}
	fits(carol, phone, "the edit form")
	// type=url lets ftp:// through; the server refuses it.
	if st := carol.fill([][2]string{{"#title", "Launch talk"}, {"#url", "ftp://example.com/x"}}, "#video-edit button[type=submit]"); st != 422 {
		carol.fail("a bad address", errStatus(st))
	}
	if got := text(carol, ".field-error"); !strings.Contains(got, "Address") {
		carol.fail("a bad address's message", errText(got))
	}
	if st := carol.fill([][2]string{{"#title", "Launch talk"}, {"#url", e.url + mediaPath}}, "#video-edit button[type=submit]"); st != 200 {
		carol.fail("save", errStatus(st))
	}
	if got := text(carol, ".video-title"); got != "Launch talk" {
		carol.fail("the new title", errText(got))
	}
	if got := eval[string](carol, `location.pathname`); got != "/watch/"+id+"-launch-talk" {
		carol.fail("the new address", errText(got))
	}

	// Alice watches while carol deletes: her page is told at once.
	alice.open(e.url + "/watch/" + id)
	alice.waitFor("the channel joined", `document.getElementById("connection").dataset.state === "connected"`)
	carol.navigateBy("open the edit form", chromedp.Click(chromedp.CSS("#video-edit-link")))
	carol.do("tick the box", chromedp.Click(chromedp.CSS("#delete-confirm")))
	if st := carol.navigateBy("delete", chromedp.Click(chromedp.CSS("#delete-submit"))); st != 200 {
		carol.fail("delete", errStatus(st))
	}
	if got := text(carol, ".flash"); !strings.HasPrefix(got, "Video deleted") {
		carol.fail("after deleting", errText(got))
	}
	if n := eval[int](carol, `document.querySelectorAll('.card[data-video-id="`+id+`"]').length`); n != 0 {
		carol.fail("my videos", errText("still list the deleted video"))
	}
	alice.waitFor("the live viewer told", `document.getElementById("connection").textContent === "This video was deleted"`)
	if !eval[bool](alice, `document.getElementById("annotation-submit").disabled`) {
		alice.fail("after the deletion", errText("the composer still posts"))
	}
	for _, tb := range []*tab{carol, alice} {
		if st := tb.open(e.url + "/watch/" + id); st != 410 {
			tb.fail("the deleted video's page", errStatus(st))
		}
		if got := text(tb, "main h1"); got != "This video was deleted" {
			tb.fail("the deleted video's page", errText(got))
		}
	}
	if st := alice.open(e.url + "/replay/" + id); st != 410 {
		alice.fail("the deleted video's replay", errStatus(st))
	}
}
