package channels_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// A stream of joins costs each viewer a bounded number of presence
// frames, however the joins are spread, and the merged diffs leave every
// viewer with the right list: a viewer that came and went between two
// diffs never shows, and no diff both joins and leaves one phx_ref.
//
// The bound is counted, not timed: a room of at least crowd viewers
// gets a diff at most every crowd/PresenceRate seconds, so a viewer can
// have received at most elapsed/interval + 2 of them, elapsed being how
// long the joins took here. A slow machine makes elapsed longer and the
// bound looser, never tighter.
func TestPresenceJoinStreamBounded(t *testing.T) {
	const crowd, arrivals = 20, 30
	cfg := permissive()
	cfg.PresenceRate = 50 // a room of 20 or more: a diff every 0.4 s at most
	e := newEnv(t, cfg)
	owner, _, _ := e.user("owner")
	vid := e.video(owner)
	topic := "videos:" + itoa(vid)

	want := map[string]int{}
	toks := make([]string, crowd+arrivals)
	for i := range toks {
		uid, _, tok := e.user("room")
		toks[i] = tok
		want[key(uid)] = 1
	}
	_, _, transientTok := e.user("transient")

	// The crowd joins together; once all see all, the arrivals come one
	// after another, each waiting for its join reply.
	clients := make([]*client, len(toks))
	var wg sync.WaitGroup
	for i := range crowd {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i] = e.dial(toks[i])
			clients[i].mustJoin(topic, map[string]any{})
		}()
	}
	wg.Wait()
	first := map[string]int{}
	for i := range crowd {
		uid, _, _ := e.tokens.Verify(toks[i])
		first[key(uid)] = 1
	}
	for _, c := range clients[:crowd] {
		c.awaitPresence(t, topic, first)
	}
	watcher := clients[0]
	from := watcher.count()
	start := time.Now()
	for i := crowd; i < len(toks); i++ {
		clients[i] = e.dial(toks[i])
		clients[i].mustJoin(topic, map[string]any{})
		if i == crowd+arrivals/2 { // comes and goes among the arrivals
			tr := e.dial(transientTok)
			tr.mustJoin(topic, map[string]any{})
			tr.close()
		}
	}
	for _, c := range clients {
		c.awaitPresence(t, topic, want)
	}
	elapsed := time.Since(start)

	diffs := 0
	watcher.mu.Lock()
	frames := watcher.frames[from:]
	watcher.mu.Unlock()
	for _, f := range frames {
		if f.Event != "presence_diff" {
			continue
		}
		diffs++
		var d struct{ Joins, Leaves pstate }
		if err := json.Unmarshal(f.Payload, &d); err != nil {
			t.Fatal(err)
		}
		joined := map[string]bool{}
		for _, p := range d.Joins {
			for _, m := range p.Metas {
				joined[m.PhxRef] = true
			}
		}
		for _, p := range d.Leaves {
			for _, m := range p.Metas {
				if joined[m.PhxRef] {
					t.Errorf("one diff joins and leaves %s: %s", m.PhxRef, f.Payload)
				}
			}
		}
	}
	interval := time.Duration(float64(crowd) / cfg.PresenceRate * float64(time.Second))
	bound := int(elapsed/interval) + 2
	t.Logf("%d arrivals one after another in %v: %d presence_diff frames to a viewer (bound %d; one per arrival without merging)",
		arrivals, elapsed.Round(time.Millisecond), diffs, bound)
	if diffs > bound {
		t.Fatalf("%d presence_diff frames in %v, more than one per %v (%d)", diffs, elapsed, interval, bound)
	}
}
