package web

import (
	"net/http"
	"sync/atomic"
	"testing"
)

// TestLongPollFallbackInBrowser: where websockets are refused, the watch
// page falls back to long polling by itself, and two viewers annotate
// live over it.
func TestLongPollFallbackInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	c := startChrome(t)
	var refused, polls atomic.Int64
	// A proxy that lets no websocket through.
	noWebsockets := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/socket/websocket":
				refused.Add(1)
				http.Error(w, "websockets are blocked here", http.StatusForbidden)
				return
			case "/socket/longpoll":
				polls.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}
	base := newWrappedTestServer(t, noWebsockets).URL

	alice := c.person(t, "alice")
	register(alice, base, "alice")
	url := addVideo(alice, base, "Blocked network", base+mediaPath)
	bob := c.person(t, "bob")
	register(bob, base, "bob")
	watch(alice, url, false)
	watch(bob, url, false)
	viewers := `[...document.querySelectorAll("#presence .viewer .viewer-name")].map(e => e.textContent).join(",")`
	for _, tb := range []*tab{alice, bob} {
		tb.waitFor("alice and bob watching", viewers+` === "alice,bob"`)
	}
	const note = "Seen over long polling"
	post(alice, note)
	bob.waitFor("alice's annotation, live", annotationsWith(note)+`.filter(li => !li.hidden).length === 1`)
	if refused.Load() == 0 || polls.Load() == 0 {
		t.Fatalf("%d websockets refused, %d long polls: the pages did not fall back", refused.Load(), polls.Load())
	}
}
