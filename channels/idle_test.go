package channels_test

import (
	"runtime"
	"testing"
	"time"
)

// An idle connection costs the server one goroutine, its reader: the
// handler and the writer run only while there is something to do, and
// net/http's goroutine has returned. (The test's client adds one more per
// connection, its own reader, in this same process.)
func TestIdleConnectionHoldsOneGoroutine(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("idle")
	topic := "videos:" + itoa(e.video(uid))
	settle := func() int {
		// Presence diffs go out 50 ms after a burst; then all is quiet.
		time.Sleep(300 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	warm := e.dial(tok) // the hub and its subscriptions exist before counting
	warm.mustJoin(topic, map[string]any{})
	before := settle()
	const n = 40
	for range n {
		c := e.dial(tok)
		c.mustJoin(topic, map[string]any{})
		n := c.send("", "hb", "phoenix", "heartbeat", map[string]any{})
		c.await(n, 5*time.Second, "heartbeat reply", func(f frame) bool { return f.Event == "phx_reply" })
	}
	var grown int
	eventually(t, "idle connections to settle at two goroutines each (server reader, test client)", 5*time.Second, func() bool {
		grown = settle() - before
		return grown <= 2*n+4
	})
	if grown < 2*n {
		t.Fatalf("goroutines grew by %d for %d connections: the count is not measuring them", grown, n)
	}
}
