package web

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestWatchPageThreads: bob replies to alice's note from its reply box;
// both see the reply under the note, with its author and time, and
// bob's markup stays text. Bob edits and the edit shows for alice; only
// bob has controls on his reply. Alice deletes her note: the thread
// stays, headed as deleted, without a reply box, live and after a
// reload; once bob deletes his last reply, the thread goes.
func TestWatchPageThreads(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	base := newTestServer(t).URL
	alice := c.person(t, "alice")
	register(alice, base, "alice")
	url := addVideo(alice, base, "Threads", base+mediaPath)
	bob := c.person(t, "bob")
	register(bob, base, "bob")
	watch(alice, url, false)
	watch(bob, url, false)
	eval[chromedp.Void](bob, `document.getElementById("show-all").click()`)
	eval[chromedp.Void](alice, `document.getElementById("show-all").click()`)

	id, _ := post(alice, "Is this the right take?")
	note := `#annotations .annotation[data-id="` + jsonText(id) + `"]`
	bob.waitFor("alice's note", `document.querySelector(`+js(note)+`) !== null`)
	const answer = `<b>No</b>, the second one`
	bob.do("open the reply box", chromedp.Click(chromedp.CSS(note+" .reply-open")))
	bob.do("reply", chromedp.SendKeys(chromedp.CSS(note+" .reply-form textarea"), answer), chromedp.Click(chromedp.CSS(note+" .reply-form button[type=submit]")))
	reply := note + " .replies .reply"
	for _, tb := range []*tab{alice, bob} {
		tb.waitFor("the reply under the note", `(r => r && r.querySelector(".ann-body").textContent === `+js(answer)+
			` && r.querySelector(".ann-user").textContent === "bob" && r.querySelector(".reply-time").textContent !== "")(document.querySelector(`+js(reply)+`))`)
		if n := eval[int](tb, `document.querySelectorAll("main b").length`); n != 0 {
			tb.fail("markup", errText("a reply's text became markup"))
		}
	}
	if n := eval[int](alice, `document.querySelectorAll(`+js(reply+" [data-action]")+`).length`); n != 0 {
		alice.fail("controls", errText("alice can edit or delete bob's reply"))
	}
	bob.waitFor("the reply box closed", `document.querySelector(`+js(note+" .reply-form")+`).hidden`)

	const edited = "The second take, at 0:04"
	bob.do("edit the reply", chromedp.Click(chromedp.CSS(reply+` [data-action="edit"]`)))
	eval[chromedp.Void](bob, `document.querySelector(`+js(reply+" .ann-edit textarea")+`).value = ""`)
	bob.do("write the edit", chromedp.SendKeys(chromedp.CSS(reply+" .ann-edit textarea"), edited), chromedp.Click(chromedp.CSS(reply+" .ann-edit button[type=submit]")))
	alice.waitFor("the edited reply", `(r => r.querySelector(".ann-body").textContent === `+js(edited)+` && r.querySelector(".ann-edited") !== null)(document.querySelector(`+js(reply)+`))`)

	// Alice deletes her note: its thread stays, closed.
	alice.do("delete the note", chromedp.Click(chromedp.CSS(note+` > .ann-main > .ann-actions [data-action="delete"]`)))
	alice.do("confirm", chromedp.Click(chromedp.CSS(note+` [data-action="confirm-delete"]`)))
	deleted := `(li => li && li.classList.contains("is-deleted") && li.querySelector(".ann-gone") !== null && li.querySelector(".reply-box").hidden && li.querySelectorAll(".reply").length === 1)(document.querySelector(` + js(note) + `))`
	for _, tb := range []*tab{alice, bob} {
		tb.waitFor("the thread headed as deleted", deleted)
	}
	watch(bob, url, false) // from the join reply, not the live pushes
	eval[chromedp.Void](bob, `document.getElementById("show-all").click()`)
	bob.waitFor("the deleted thread after a reload", deleted)

	bob.do("delete the reply", chromedp.Click(chromedp.CSS(reply+` [data-action="delete"]`)))
	bob.do("confirm", chromedp.Click(chromedp.CSS(reply+` [data-action="confirm-delete"]`)))
	for _, tb := range []*tab{alice, bob} {
		tb.waitFor("the thread gone", `document.querySelector(`+js(note)+`) === null`)
	}
}
