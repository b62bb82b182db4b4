package web

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// TestModerationInBrowser: a viewer reports a note with a reason; the
// moderator finds it in the queue (linked from the nav), opens it on the
// video and hides it with a reason: it disappears from the viewer's
// page live and stays, marked hidden, on its author's; the queue is then
// empty. Only reported notes offer moderators to dismiss reports, which
// the queue page does too. A reaction's count reaches the other pages live, and the
// reacting viewer's page shows it pressed after a reload.
func TestModerationInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	e := newSiteEnv(t)
	mona, err := e.users.Register(t.Context(), "mona", "password-mona-1", eventstore.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.users.Grant(t.Context(), mona.ID, domain.RoleModerator, 0, "", eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	watchPath := watchURL(e.video)
	const rude = "Watch the left side here"
	open := func(name string) *tab {
		tb := c.person(t, name)
		e.signIn(tb, name)
		watch(tb, e.url+watchPath, false)
		eval[chromedp.Void](tb, `document.getElementById("show-all").click()`)
		tb.waitFor("the notes", `[...document.querySelectorAll("#annotations .annotation")].filter(li => !li.hidden).length === 3`)
		return tb
	}
	carol, alice := open("carol"), open("alice")
	note := annotationsWith(rude) + `[0]`

	// alice reports it; her page says so.
	eval[chromedp.Void](alice, note+`.querySelector('[data-action="report"]').click()`)
	alice.waitFor("the reason field", note+`.querySelector(".ann-reason input") !== null`)
	eval[chromedp.Void](alice, `(f => { f.querySelector("input").value = "Rude to the speaker"; f.requestSubmit() })(`+note+`.querySelector(".ann-reason"))`)
	alice.waitFor("the report sent", note+`.querySelector('[data-action="report"]').textContent === "Reported"`)

	// mona: the queue, from the nav.
	m := c.person(t, "mona")
	e.signIn(m, "mona")
	e.sync()
	m.open(e.url + "/videos")
	m.waitFor("the nav link", `document.querySelector('.nav a[href="/moderation"]') !== null`)
	m.open(e.url + "/moderation")
	if got := text(m, "#moderation-queue .queue-body"); got != rude {
		m.fail("the queue", errText(got))
	}
	if got := text(m, "#moderation-queue .queue-reports li"); got == "" || !contains(got, "alice") || !contains(got, "Rude to the speaker") {
		m.fail("the report in the queue", errText(got))
	}
	m.navigateBy("open on the video", chromedp.Click(chromedp.CSS("#moderation-queue a.button")))
	m.waitFor("the page to be live", `document.getElementById("connection")?.dataset.state === "connected"`)
	eval[chromedp.Void](m, `document.getElementById("show-all").click()`)
	m.waitFor("the note", annotationsWith(rude)+`.length === 1`)
	// Only the reported note offers to dismiss reports.
	other := annotationsWith("Same pattern again") + `[0]`
	m.waitFor("dismiss on the reported note", note+`.querySelector('[data-action="dismiss"]') !== null`)
	if got := eval[bool](m, other+`.querySelector('[data-action="dismiss"]') === null && `+other+`.querySelector('[data-action="hide"]') !== null`); !got {
		m.fail("a note without reports offers to dismiss them, or none to hide", errText("dismiss shown"))
	}
	eval[chromedp.Void](m, note+`.querySelector('[data-action="hide"]').click()`)
	eval[chromedp.Void](m, `(f => { f.querySelector("input").value = "Insults the speaker"; f.requestSubmit() })(`+note+`.querySelector(".ann-reason"))`)

	alice.waitFor("the hidden note gone", annotationsWith(rude)+`.length === 0 && document.querySelectorAll("#annotations .annotation").length === 2`)
	carol.waitFor("her note marked hidden", note+`?.classList.contains("is-hidden") && `+note+`.querySelector(".ann-hidden-note") !== null`)
	m.waitFor("the note gone for the moderator", annotationsWith(rude)+`.length === 0`)

	e.sync()
	m.open(e.url + "/moderation")
	if got := text(m, ".empty-state"); got != "No open reports." {
		m.fail("the queue after the hide", errText(got))
	}

	// From the queue: alice reports another note; mona dismisses its
	// reports on the moderators' page, and the queue is empty again.
	eval[chromedp.Void](alice, other+`.querySelector('[data-action="report"]').click()`)
	eval[chromedp.Void](alice, `(f => { f.querySelector("input").value = "Spam"; f.requestSubmit() })(`+other+`.querySelector(".ann-reason"))`)
	alice.waitFor("the second report sent", other+`.querySelector('[data-action="report"]').textContent === "Reported"`)
	m.open(e.url + "/watch/" + strconv.FormatInt(e.video.ID, 10))
	m.waitFor("the page to be live", `document.getElementById("connection")?.dataset.state === "connected"`)
	eval[chromedp.Void](m, `document.getElementById("show-all").click()`)
	m.waitFor("dismiss on the newly reported note", other+`?.querySelector('[data-action="dismiss"]') != null`)
	e.sync()
	m.open(e.url + "/moderation")
	item := `document.querySelector("#moderation-queue .queue-item")`
	m.waitFor("the queue's controls", item+`?.querySelector('[data-action="dismiss"]') != null`)
	eval[chromedp.Void](m, item+`.querySelector('[data-action="dismiss"]').click()`)
	eval[chromedp.Void](m, `(f => { f.querySelector("input").value = "Not spam"; f.requestSubmit() })(`+item+`.querySelector(".ann-reason"))`)
	m.waitFor("the dismissal done", item+`.querySelector(".queue-done")?.textContent === "Reports dismissed"`)
	e.sync()
	m.open(e.url + "/moderation")
	if got := text(m, ".empty-state"); got != "No open reports." {
		m.fail("the queue after the dismissal", errText(got))
	}

	// A reaction: alice's heart reaches carol's page.
	eval[chromedp.Void](alice, other+`.querySelector('.reaction[data-reaction="heart"]').click()`)
	alice.waitFor("her reaction pressed", other+`.querySelector('.reaction[data-reaction="heart"]').getAttribute("aria-pressed") === "true"`)
	carol.waitFor("the count live", other+`.querySelector('.reaction[data-reaction="heart"]').dataset.count === "1"`)

	// alice reloads: her heart is still pressed, carol's is not.
	watch(alice, e.url+watchPath, false)
	eval[chromedp.Void](alice, `document.getElementById("show-all").click()`)
	alice.waitFor("her reaction pressed after a reload", other+`?.querySelector('.reaction[data-reaction="heart"]').getAttribute("aria-pressed") === "true" && `+
		other+`.querySelector('.reaction[data-reaction="heart"]').dataset.count === "1"`)
	if got := eval[string](carol, other+`.querySelector('.reaction[data-reaction="heart"]').getAttribute("aria-pressed")`); got != "false" {
		carol.fail("another viewer's reaction pressed on her page", errText(got))
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
