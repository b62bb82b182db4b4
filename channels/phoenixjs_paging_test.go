package channels_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// digest is what client.mjs reports of the annotations it shows.
func digest(bodies map[int64]string) string {
	h := sha256.New()
	for _, id := range slices.Sorted(maps.Keys(bodies)) {
		fmt.Fprintf(h, "%d:%s\n", id, bodies[id])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// The official client, keeping state as the watch page does, catches up
// on a long history page by page, with posts, edits and deletes made
// while it does, and ends with exactly the log's annotations.
func TestOfficialPhoenixClientPagedCatchUp(t *testing.T) {
	requireNode(t)
	const n = 50000
	// The client does not read while the test makes its changes, which on
	// a busy machine can take longer than the default write timeout: it
	// must not be cut as too slow meanwhile.
	cfg := permissive()
	cfg.WriteTimeout = 10 * time.Minute
	e := newEnv(t, cfg, smallTCP)
	uid, name, tok := e.user("author")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	e.seed(vid, uid, name, n)
	for id := int64(3); id <= n; id += 997 {
		e.edit(vid, uid, id, "edited in history "+itoa(id))
	}
	for id := int64(7); id <= n; id += 1499 {
		e.del(vid, uid, id)
	}

	// The client stops reading when its join is answered: what follows
	// happens while the rest of its history waits to be sent.
	js := startJS(t, e, tok, topic, "params", "VL_STATE=1")
	joined := js.expect("join", func(m jsMsg) bool { return m.Type == "joined" })
	if !joined.More || len(joined.IDs) == 0 || len(joined.IDs) > 500 {
		t.Fatalf("join reply with %d annotations, more=%v; want a page and more", len(joined.IDs), joined.More)
	}
	for i := range 10 {
		id := e.post(vid, uid, name, "during "+itoa(int64(i)))
		e.edit(vid, uid, int64(20+i), "sent already, edited during")
		e.edit(vid, uid, int64(n-100-i), "not sent yet, edited during")
		e.del(vid, uid, int64(40+i))
		e.del(vid, uid, int64(n-200-i))
		if i%2 == 0 {
			e.edit(vid, uid, id, "posted and edited during")
		} else {
			e.del(vid, uid, id)
		}
	}
	during := e.head(vid)
	js.send(map[string]any{"cmd": "resume"})
	cu := js.expect("caught_up", func(m jsMsg) bool { return m.Type == "caught_up" })
	if cu.Rev < during {
		t.Fatalf("caught_up at rev %d, before the changes made while paging (%d): the test did not page through them", cu.Rev, during)
	}
	// Live, after caught_up.
	for i := range 3 {
		e.post(vid, uid, name, "after "+itoa(int64(i)))
	}
	e.edit(vid, uid, 1, "edited after")
	e.del(vid, uid, 2)
	head := e.head(vid)

	want := e.fold(vid)
	var st jsMsg
	deadline := time.Now().Add(30 * time.Second)
	for {
		js.send(map[string]any{"cmd": "state"})
		st = js.expect("state", func(m jsMsg) bool { return m.Type == "state" })
		if st.Rev == head || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.Rev != head || st.Count != len(want) || st.Body != digest(want) {
		t.Fatalf("the official client shows %d annotations at rev %d (digest %s); the log has %d at rev %d (digest %s)",
			st.Count, st.Rev, st.Body, len(want), head, digest(want))
	}
	t.Logf("official client caught up on %d annotations (%d live) exactly, with changes during its catch-up", n, len(want))
}
