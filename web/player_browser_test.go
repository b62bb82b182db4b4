package web

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// block makes tb's page fail every request to a URL matching one of
// patterns (URLPattern syntax), as a network that blocks them would.
func (tb *tab) block(patterns ...string) {
	tb.t.Helper()
	ps := make([]*network.BlockPattern, len(patterns))
	for i, p := range patterns {
		ps[i] = &network.BlockPattern{URLPattern: p, Block: true}
	}
	tb.do("block "+patterns[0], chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: ps})
		return err
	}))
}

// TestPlayerThatCannotLoadSaysSo: when YouTube's player script cannot
// load, or a media file cannot be played, the player says so and links to
// the video, instead of a black box.
func TestPlayerThatCannotLoadSaysSo(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	e := newSiteEnv(t)
	carol := c.person(t, "carol")
	carol.block("https://*.youtube.com/*", "https://youtube.com/*")
	e.signIn(carol, "carol")

	carol.open(e.url + watchURL(e.youtube))
	carol.waitFor("the player's message", `document.querySelector("#player .player-problem a")?.href === "https://www.youtube.com/watch?v=dQw4w9WgXcQ"`)
	if got := text(carol, "#player .player-problem p"); got == "" {
		carol.fail("the player's message", errText("empty"))
	}
	shoot(carol, desktop, "watch-youtube-blocked")

	bad := e.videoOf(t, "carol")
	v, err := e.videos.Get(t.Context(), bad)
	if err != nil {
		t.Fatal(err)
	}
	carol.open(e.url + watchURL(v))
	carol.waitFor("the player's message", `document.querySelector("#player .player-problem a")?.href === `+js(v.URL))
}
