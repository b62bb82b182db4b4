package web

import (
	"testing"
)

// TestReplayChartsInBrowser: the replay page shows the three charts,
// drawn from the video's history, at a phone's size and a desktop's,
// with nothing the Content-Security-Policy refuses.
func TestReplayChartsInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	e := newAnalysisEnv(t)
	for _, sc := range []screen{phone, desktop} {
		t.Run(sc.name, func(t *testing.T) {
			alice := c.person(t, "alice")
			alice.resize(sc)
			alice.open(e.url + "/signin")
			if st := alice.fill([][2]string{{"#username", "alice"}, {"#password", "password-alice-1"}}, "main form button[type=submit]"); st != 200 {
				alice.fail("sign in", errStatus(st))
			}
			if st := alice.open(e.url + "/replay/1"); st != 200 {
				alice.fail("open the replay", errStatus(st))
			}
			// carol watched once, and posted three annotations at 3, 6
			// and 9 seconds of the video.
			bars := eval[[]int](alice, `["viewers", "heatmap", "lengths"].map(id => document.querySelectorAll("#chart-" + id + " svg rect").length)`)
			if len(bars) != 3 || bars[0] < 1 || bars[1] != 3 || bars[2] != 1 {
				alice.fail("the charts' bars", errText(jsonText(bars)))
			}
			// Drawn at a size people can read: as wide as their box.
			if w := eval[float64](alice, `document.querySelector("#chart-heatmap svg").getBoundingClientRect().width`); w < 300 {
				alice.fail("the heatmap's width", errText(jsonText(w)))
			}
			fits(alice, sc, "/replay/1")
			shoot(alice, sc, "replay-charts")
			if con := alice.consoleText(); con != "" {
				alice.fail("console", errText(con))
			}
		})
	}
}
