package web

import (
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestRewoundHistoryInBrowser: when the server answers a rejoin with
// history_rewound (its log ends before what the page has seen: a restored
// backup, a lost tail), the watch page drops its list and joins afresh,
// and ends up showing the video's annotations again, live.
func TestRewoundHistoryInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	base := newTestServer(t).URL
	carol := c.person(t, "carol")
	register(carol, base, "carol")
	url := addVideo(carol, base, "Rewound", base+mediaPath)
	watch(carol, url, false)
	post(carol, "before the restore")
	last, _ := post(carol, "also before the restore")

	// The page believes it has seen far more than the log holds, then
	// its connection drops: its rejoin claims the lost history.
	eval[chromedp.Void](carol, `videologue.panel.lastSeenId = 1000; videologue.panel.lastSeenRev = 1000; videologue.socket.disconnect(() => videologue.socket.connect())`)
	carol.waitFor("the list reloaded from the start",
		`videologue.panel.lastSeenId === `+strconv.Itoa(last)+` && videologue.panel.lastSeenRev < 1000 && `+
			annotationsWith("before the restore")+`.length === 1 && `+annotationsWith("also before the restore")+`.length === 1 && `+
			`document.getElementById("connection").dataset.state === "connected"`)
	post(carol, "after the restore")
}
