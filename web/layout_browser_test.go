package web

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// screen is a browser window size the pages must fit.
type screen struct {
	name          string
	width, height int64
	mobile        bool
}

var (
	phone   = screen{"phone", 390, 844, true}
	desktop = screen{"desktop", 1440, 900, false}
)

// resize makes tb's window the size of sc; a phone also gets a phone's
// touch input and viewport handling.
func (tb *tab) resize(sc screen) {
	tb.t.Helper()
	var opts []chromedp.EmulateViewportOption
	if sc.mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	tb.do("resize to "+sc.name, chromedp.EmulateViewport(sc.width, sc.height, opts...))
}

// overflowJS lists what sticks out past the right edge of the window: the
// document when it is wider than the window, then the elements whose box
// ends past it (at most five), by tag, id and class.
// A phone zooms out to show a page wider than its screen, which widens
// window.innerWidth with it: the width to fit is the screen's, w.
const overflowJS = `(w => {
  const doc = document.documentElement;
  if (doc.scrollWidth <= w && doc.scrollWidth <= doc.clientWidth) return [];
  const out = ["document " + doc.scrollWidth + "px wide on a screen of " + w + "px"];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 0.5) {
      out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.classList.length ? "." + [...el.classList].join(".") : "") + " ends at " + Math.round(r.right) + "px");
      if (out.length > 5) break;
    }
  }
  return out;
})`

// fits fails tb when the page scrolls sideways, naming what sticks out.
func fits(tb *tab, sc screen, what string) {
	tb.t.Helper()
	if out := eval[[]string](tb, overflowJS+"("+fmt.Sprint(sc.width)+")"); len(out) > 0 {
		tb.t.Errorf("%s at %s (%dx%d) scrolls sideways: %s", what, sc.name, sc.width, sc.height, strings.Join(out, "; "))
	}
}

// inView fails tb unless the element css is on screen horizontally.
func inView(tb *tab, sc screen, css, what string) {
	tb.t.Helper()
	ok := eval[bool](tb, `(el => { if (!el) return false; const r = el.getBoundingClientRect(); return r.width > 0 && r.left >= 0 && r.right <= `+fmt.Sprint(sc.width)+`; })(document.querySelector(`+js(css)+`))`)
	if !ok {
		tb.t.Errorf("%s at %s: %s (%s) is not on screen", what, sc.name, css, tb.name)
	}
}

// shoot saves the whole page as DIR/NAME-SCREEN.png when
// VIDEOLOGUE_SCREENSHOTS=DIR is set (docs/screenshots holds a few).
func shoot(tb *tab, sc screen, name string) {
	tb.t.Helper()
	dir := os.Getenv("VIDEOLOGUE_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.fail("screenshot", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.png", name, sc.name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// TestPagesFitTheScreen opens every page at a phone's size and at a
// desktop's: none may scroll sideways, the account's controls (Sign out)
// stay on screen, and on a phone the watch page puts the player above the
// annotations.
func TestPagesFitTheScreen(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	e := newSiteEnv(t)
	watchPath := watchURL(e.video)
	for _, sc := range []screen{phone, desktop} {
		t.Run(sc.name, func(t *testing.T) {
			guest := c.person(t, "guest")
			guest.resize(sc)
			for _, p := range []struct{ name, path string }{{"home", "/"}, {"signin", "/signin"}, {"register", "/register"}, {"videos", "/videos"}, {"notfound", "/watch/999"}} {
				guest.open(e.url + p.path)
				fits(guest, sc, p.path+" signed out")
				inView(guest, sc, ".account .button", p.path+" signed out")
				shoot(guest, sc, p.name+"-guest")
			}

			// dave is an admin: he sees every page and the most links.
			dave := c.person(t, "dave")
			dave.resize(sc)
			e.signIn(dave, "dave")
			pages := []struct{ name, path, ready string }{
				{"home", "/", ""},
				{"videos", "/videos", ""},
				{"mine", "/videos?mine=1", ""},
				{"new-video", "/videos/new", ""},
				{"watch", watchPath, `document.getElementById("connection")?.dataset.state === "connected" && document.querySelectorAll("#annotations .annotation").length === 3`},
				{"edit-video", fmt.Sprintf("/videos/%d/edit", e.video.ID), ""},
				{"account", "/account", ""},
				{"replay", fmt.Sprintf("/replay/%d", e.video.ID), `document.querySelector("#replay-status").textContent.includes("events")`},
				{"audit", "/audit", ""},
				{"moderation", "/moderation", ""},
				{"admin", "/admin", ""},
				{"admin-user", fmt.Sprintf("/admin/users/%d", e.ids["dave"]), ""},
			}
			for _, p := range pages {
				if st := dave.open(e.url + p.path); st != 200 {
					dave.fail("open "+p.path, errStatus(st))
				}
				if p.ready != "" {
					dave.waitFor(p.name+" ready", p.ready)
				}
				if p.name == "watch" { // past every annotation's moment, so that all show
					eval[chromedp.Void](dave, `document.querySelector("#player video").currentTime = 12`)
					dave.waitFor("the annotations shown", `!document.getElementById("annotations-status").textContent.includes("later")`)
				}
				fits(dave, sc, p.path)
				inView(dave, sc, ".account form button", p.path)
				shoot(dave, sc, p.name)
			}

			dave.open(e.url + watchPath)
			dave.waitFor("the annotations", `document.querySelectorAll("#annotations .annotation").length === 3`)
			below := eval[bool](dave, `document.querySelector("#player").getBoundingClientRect().bottom <= document.querySelector(".panel").getBoundingClientRect().top`)
			if sc.mobile && !below {
				t.Errorf("watch page at %s: the annotations are not below the player", sc.name)
			}
			if !sc.mobile && below {
				t.Errorf("watch page at %s: the annotations are below the player, not beside it", sc.name)
			}
		})
	}
}
