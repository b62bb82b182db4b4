package web

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestWatchPageReportsDuration: the watch page tells the server how long
// the video lasts as soon as its player knows, and the server then
// refuses an annotation pinned beyond the end (the composer shows the
// reason) while one within it goes through.
func TestWatchPageReportsDuration(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	base := newTestServer(t).URL // its media file lasts 30 s
	ann := c.person(t, "ann")
	register(ann, base, "ann")
	url := addVideo(ann, base, "Thirty seconds", base+mediaPath)
	watch(ann, url, false)
	ann.waitFor("the duration reported", `document.getElementById("watch").dataset.durationMs === "30000"`)

	eval[chromedp.Void](ann, `void window.videologue.channel.push("new_annotation", {body: "ninety-nine minutes in", at: 99 * 60 * 1000})
		.receive("ok", () => { window.lateReply = "ok" })
		.receive("error", r => { window.lateReply = r.reason })`)
	ann.waitFor("the reply", `window.lateReply !== undefined`)
	if got := eval[string](ann, `window.lateReply`); got != "at must be at most 30000: the video lasts 0:30" {
		ann.fail("a post beyond the end", errText(got))
	}
	if _, at := post(ann, "Right at the start"); at > 30000 {
		ann.fail("a post within the video", errText(jsonText(at)))
	}
}
