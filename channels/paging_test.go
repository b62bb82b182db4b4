package channels_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// seed appends n annotations by the user to videoID, in batches, as a
// long history would have been posted.
func (e *env) seed(videoID, userID int64, username string, n int) {
	e.t.Helper()
	e.seedPadded(videoID, userID, username, n, 0)
}

// seedPadded is seed with bodies pad bytes longer.
func (e *env) seedPadded(videoID, userID int64, username string, n, pad int) {
	e.t.Helper()
	for done := 0; done < n; {
		batch := make([]eventstore.EventData, 0, min(500, n-done))
		for range cap(batch) {
			body := fmt.Sprintf("history %d", done) + strings.Repeat(".", pad)
			b, _ := json.Marshal(domain.AnnotationPosted{UserID: userID, Username: username, Body: body, At: int64(done)})
			batch = append(batch, eventstore.EventData{Type: domain.TypeAnnotationPosted, Data: b})
			done++
		}
		if _, err := e.store.Append(e.t.Context(), domain.VideoStream(videoID), eventstore.Any, batch...); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) edit(videoID, userID, id int64, body string) {
	e.t.Helper()
	e.appendEvent(domain.VideoStream(videoID), domain.TypeAnnotationEdited, domain.AnnotationEdited{AnnotationID: id, UserID: userID, Body: body})
}

func (e *env) del(videoID, userID, id int64) {
	e.t.Helper()
	e.appendEvent(domain.VideoStream(videoID), domain.TypeAnnotationDeleted, domain.AnnotationDeleted{AnnotationID: id, UserID: userID})
}

// head is the video's client revision: the number of events of its stream.
func (e *env) head(videoID int64) int64 {
	e.t.Helper()
	return int64(len(e.readStream(domain.VideoStream(videoID))))
}

// pagedView is what the web client shows: annotations by id, and the
// largest id and rev it has applied (caught_up's included), which it
// rejoins with.
type pagedView struct {
	bodies  map[int64]string
	lastID  int64
	lastRev int64
	caught  bool // caught_up applied
}

func newPagedView() *pagedView { return &pagedView{bodies: map[int64]string{}} }

// received returns the frames of topic received on c, in order.
func received(c *client, topic string) []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []frame
	for _, f := range c.frames {
		if !f.local && f.Topic == topic {
			out = append(out, f)
		}
	}
	return out
}

func (v *pagedView) apply(frames []frame) {
	type ann struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
		Rev  int64  `json:"rev"`
	}
	upsert := func(a ann) {
		v.bodies[a.ID] = a.Body
		v.lastID = max(v.lastID, a.ID)
	}
	for _, f := range frames {
		switch f.Event {
		case "phx_reply":
			st, resp := f.reply()
			var r struct {
				Annotations []ann   `json:"annotations"`
				Updated     []ann   `json:"updated"`
				Deleted     []int64 `json:"deleted"`
				Rev         *int64  `json:"rev"`
			}
			if st != "ok" || json.Unmarshal(resp, &r) != nil || r.Rev == nil {
				continue
			}
			for _, a := range r.Annotations {
				upsert(a)
			}
			for _, a := range r.Updated {
				upsert(a)
			}
			for _, id := range r.Deleted {
				delete(v.bodies, id)
			}
			v.lastRev = max(v.lastRev, *r.Rev)
		case "new_annotation", "annotation_updated":
			var a ann
			_ = json.Unmarshal(f.Payload, &a)
			upsert(a)
			v.lastRev = max(v.lastRev, a.Rev)
		case "annotation_deleted":
			var a ann
			_ = json.Unmarshal(f.Payload, &a)
			delete(v.bodies, a.ID)
			v.lastRev = max(v.lastRev, a.Rev)
		case "caught_up":
			var cu struct {
				LastID  int64 `json:"last_id"`
				LastRev int64 `json:"last_rev"`
			}
			_ = json.Unmarshal(f.Payload, &cu)
			v.lastID, v.lastRev, v.caught = max(v.lastID, cu.LastID), max(v.lastRev, cu.LastRev), true
		}
	}
}

// caughtUp waits for the caught_up push of topic on c and returns it.
func (c *client) caughtUp(topic string) frame {
	c.t.Helper()
	return c.await(0, 60*time.Second, "caught_up", func(f frame) bool { return f.Topic == topic && f.Event == "caught_up" })
}

// smallTCP gives the sockets small buffers: a client that stops reading
// stops its catch-up within a few hundred KiB (the tests' histories are
// longer), yet one that reads is not slowed by a tiny window.
func smallTCP(e *env) { e.tinyTCP, e.tcpBuf = true, 64<<10 }

func pagedConfig(pageSize int) channels.Config {
	cfg := permissive()
	cfg.PageSize = pageSize
	return cfg
}

func joinResponse(t testing.TB, f frame) (annotations int, rev int64, more bool) {
	t.Helper()
	st, resp := f.reply()
	var r struct {
		Annotations []json.RawMessage `json:"annotations"`
		Updated     []json.RawMessage `json:"updated"`
		Deleted     []int64           `json:"deleted"`
		Rev         int64             `json:"rev"`
		More        *bool             `json:"more"`
	}
	if st != "ok" || json.Unmarshal(resp, &r) != nil || r.More == nil {
		t.Fatalf("join reply without more: %s", f.Payload)
	}
	return len(r.Annotations) + len(r.Updated) + len(r.Deleted), r.Rev, *r.More
}

// A join on a long history gets one page in its reply, the rest as
// pushes in order, then caught_up; what is posted, edited and deleted
// meanwhile follows the history, once each, in log order.
func TestPagedCatchUp(t *testing.T) {
	const n, page = 5000, 50
	e := newEnv(t, pagedConfig(page), smallTCP)
	uid, name, tok := e.user("author")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	e.seed(vid, uid, name, n)
	e.edit(vid, uid, 10, "ten, edited before")
	e.del(vid, uid, 30)

	c := e.dial(tok)
	_, reply := c.join(topic, map[string]any{})
	got, _, more := joinResponse(t, reply)
	if got > page || got == 0 || !more {
		t.Fatalf("join reply has %d entries, more=%v; want 1 to %d and more", got, more, page)
	}
	// The client stops reading: what happens now happens while its
	// history is still being sent.
	c.pause()
	var posted []int64
	for i := range 20 {
		posted = append(posted, e.post(vid, uid, name, "during "+itoa(int64(i))))
	}
	e.edit(vid, uid, 40, "forty, edited during")     // most likely sent already
	e.edit(vid, uid, n-10, "late, edited during")    // not sent yet
	e.del(vid, uid, 45)                              // sent already
	e.del(vid, uid, n-20)                            // not sent yet
	e.edit(vid, uid, posted[3], "a new one, edited") // sent live, after the history
	e.del(vid, uid, posted[5])
	during := e.head(vid)
	c.resume()

	cu := c.caughtUp(topic)
	var last struct {
		LastID  int64 `json:"last_id"`
		LastRev int64 `json:"last_rev"`
	}
	if err := json.Unmarshal(cu.Payload, &last); err != nil {
		t.Fatal(err)
	}
	if last.LastRev < during {
		t.Fatalf("caught_up at rev %d, before the changes made while paging (%d): the test did not page through them", last.LastRev, during)
	}
	// Live, after caught_up.
	for i := range 5 {
		posted = append(posted, e.post(vid, uid, name, "after "+itoa(int64(i))))
	}
	e.edit(vid, uid, 50, "fifty, edited after")
	e.del(vid, uid, posted[len(posted)-1])
	head := e.head(vid)
	c.await(0, 30*time.Second, "the last change", func(f frame) bool {
		return f.Topic == topic && f.Event == "annotation_deleted" && strings.Contains(string(f.Payload), `"rev":`+itoa(head)+`}`)
	})
	v := newPagedView()
	v.apply(received(c, topic))
	if !maps.Equal(v.bodies, e.fold(vid)) {
		t.Fatalf("the client shows %d annotations, the log has %d live", len(v.bodies), len(e.fold(vid)))
	}

	// The frames: pushes in order, each annotation posted once, one
	// caught_up, then live events after its revision.
	frames := received(c, topic)
	var newIDs []int64
	caught, prevRev := false, int64(0)
	for _, f := range frames {
		if len(f.Payload) > 256<<10 {
			t.Errorf("a %s frame of %d bytes", f.Event, len(f.Payload))
		}
		switch f.Event {
		case "caught_up":
			if caught {
				t.Fatal("two caught_up")
			}
			caught = true
			if last.LastRev < prevRev {
				t.Fatalf("caught_up rev %d below a push before it (%d)", last.LastRev, prevRev)
			}
			prevRev = last.LastRev
		case "new_annotation", "annotation_updated", "annotation_deleted":
			var p struct {
				ID  int64 `json:"id"`
				Rev int64 `json:"rev"`
			}
			_ = json.Unmarshal(f.Payload, &p)
			if p.Rev < prevRev || (caught && p.Rev == prevRev) {
				t.Fatalf("%s of %d at rev %d after rev %d (caught up: %v)", f.Event, p.ID, p.Rev, prevRev, caught)
			}
			prevRev = p.Rev
			if f.Event == "new_annotation" {
				newIDs = append(newIDs, p.ID)
			}
		case "phx_reply":
			var r struct {
				Response struct {
					Annotations []struct {
						ID int64 `json:"id"`
					} `json:"annotations"`
					Rev int64 `json:"rev"`
				} `json:"response"`
			}
			_ = json.Unmarshal(f.Payload, &r)
			for _, a := range r.Response.Annotations {
				newIDs = append(newIDs, a.ID)
			}
			prevRev = r.Response.Rev
		}
	}
	if !caught {
		t.Fatal("no caught_up")
	}
	if !slices.IsSorted(newIDs) || len(slices.Compact(slices.Clone(newIDs))) != len(newIDs) {
		t.Fatalf("annotations not each once in id order")
	}
	// Every annotation posted and not deleted before its turn came.
	final := e.fold(vid)
	for id := range final {
		if !slices.Contains(newIDs, id) {
			t.Fatalf("annotation %d never sent", id)
		}
	}
	if peak, bound := channels.PeakQueuedBytes(e.srv), 1<<20; peak > bound {
		t.Fatalf("a connection held %d bytes, over its bound of %d", peak, bound)
	}
}

// A client cut anywhere in its catch-up, history and changes made
// meanwhile, that rejoins with what it has applied, ends with exactly the
// log's annotations: with its largest id and rev (the web client), and
// with its largest id alone (the book's recipe).
func TestPagedCatchUpCutAnywhere(t *testing.T) {
	const n, page = 1000, 50
	e := newEnv(t, pagedConfig(page), smallTCP)
	uid, name, tok := e.user("author")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	e.seedPadded(vid, uid, name, n/2, 1000)
	for id := int64(5); id < n/2; id += 37 {
		e.edit(vid, uid, id, "edited in history "+itoa(id))
	}
	for id := int64(11); id < n/2; id += 53 {
		e.del(vid, uid, id)
	}
	e.seedPadded(vid, uid, name, n/2, 1000)

	c := e.dial(tok)
	c.mustJoin(topic, map[string]any{})
	c.pause()
	for i := range 10 {
		id := e.post(vid, uid, name, "during "+itoa(int64(i)))
		e.edit(vid, uid, int64(7+i*97), "edited during "+itoa(int64(i)))
		e.del(vid, uid, int64(13+i*89))
		if i%3 == 0 {
			e.edit(vid, uid, id, "posted and edited during "+itoa(int64(i)))
		}
	}
	during := e.head(vid)
	c.resume()
	var last struct {
		LastRev int64 `json:"last_rev"`
	}
	if err := json.Unmarshal(c.caughtUp(topic).Payload, &last); err != nil || last.LastRev < during {
		t.Fatalf("caught_up at rev %d, before the changes made while paging (%d): the test did not page through them", last.LastRev, during)
	}
	frames := received(c, topic)
	want := e.fold(vid)
	if e.head(vid) != during {
		t.Fatal("the log moved")
	}
	c.close()

	// Cut before and right after the reply, at every point around the
	// first push of a change made while paging (where the sweep of edits
	// and deletes begins), across the rest, and at the end.
	first := slices.IndexFunc(frames, func(f frame) bool {
		return (f.Event == "annotation_updated" || f.Event == "annotation_deleted") && strings.Contains(string(f.Payload), `"rev":`)
	})
	if first < 0 {
		t.Fatal("no change pushed while paging")
	}
	cuts := []int{0, 1, 2}
	for k := max(first-2, 3); k < min(first+6, len(frames)); k++ {
		cuts = append(cuts, k)
	}
	for k := first + 6; k < len(frames); k += len(frames) / 4 {
		cuts = append(cuts, k)
	}
	cuts = append(cuts, len(frames)-1, len(frames))
	for _, k := range cuts {
		for _, book := range []bool{false, true} {
			v := newPagedView()
			v.apply(frames[:k])
			params := map[string]any{"last_seen_id": v.lastID, "last_seen_rev": v.lastRev}
			if book {
				params = map[string]any{"last_seen_id": v.lastID}
			}
			r := e.dial(tok)
			r.mustJoin(topic, params)
			r.caughtUp(topic)
			v.apply(received(r, topic))
			r.close()
			if !maps.Equal(v.bodies, want) {
				t.Fatalf("cut after %d of %d frames, rejoined with %v (book: %v): %d annotations shown, the log has %d live",
					k, len(frames), params, book, len(v.bodies), len(want))
			}
		}
	}
	t.Logf("%d frames of catch-up, cut at %d points, each ends exact", len(frames), len(cuts))
}

// The book's client reads only the join reply and new_annotation pushes
// and rejoins with last_seen_id: across a paged catch-up, with posts
// during it, and cut partway, it sees each annotation once, in order.
func TestPagedCatchUpBookClient(t *testing.T) {
	const n, page = 3000, 40
	e := newEnv(t, pagedConfig(page), smallTCP)
	uid, name, tok := e.user("author")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	e.seed(vid, uid, name, n)

	c := e.dial(tok)
	c.mustJoin(topic, map[string]any{})
	c.pause()
	for i := range 10 {
		e.post(vid, uid, name, "during "+itoa(int64(i)))
	}
	c.resume()
	log := e.logIDs(vid)
	c.caughtUp(topic) // the book's client ignores it; the test waits for it
	if got := ids(c.annotations(topic)); !slices.Equal(got, log) {
		t.Fatalf("the book's client saw %d annotations, the log holds %d (first difference matters)", len(got), len(log))
	}
	frames := received(c, topic)
	c.close()
	for _, k := range []int{1, 2, len(frames) / 3, len(frames) / 2, len(frames) - 2} {
		seen := ids(annotationsOf(frames[:k], topic))
		last := int64(0)
		if len(seen) > 0 {
			last = seen[len(seen)-1]
		}
		r := e.dial(tok)
		r.mustJoin(topic, map[string]any{"last_seen_id": last})
		r.caughtUp(topic)
		all := append(seen, ids(r.annotations(topic))...)
		r.close()
		if !slices.Equal(all, log) {
			t.Fatalf("cut after %d frames, rejoined from %d: saw %d annotations, the log holds %d", k, last, len(all), len(log))
		}
	}
}

// A client that joins and rejoins and never reads is cut, alone, once
// what it makes the server hold passes the connection's bound in bytes;
// it never held more, and it catches up exactly when it comes back.
func TestClientThatNeverReadsIsCut(t *testing.T) {
	cfg := pagedConfig(100)
	cfg.QueueBytes = 64 << 10
	cfg.PageBytes = 16 << 10
	e := newEnv(t, cfg, smallTCP)
	uid, name, _ := e.user("author")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	e.seed(vid, uid, name, 2000)
	_, _, ftok := e.user("fast")
	fast := e.dial(ftok)
	fast.mustJoin(topic, map[string]any{})
	fast.caughtUp(topic)

	_, _, stok := e.user("stuck")
	stuck := e.dial(stok)
	eventually(t, "both sockets open", 10*time.Second, func() bool { return e.srv.Connections() == 2 })
	stuck.pause()
	var joins int
	for joins = 0; joins < 200; joins++ {
		ref := stuck.nextRef()
		if stuck.trySend(ref, ref, topic, "phx_join", map[string]any{}) != nil {
			break
		}
		if e.srv.Connections() == 1 {
			break
		}
	}
	eventually(t, "the client that does not read to be cut", 20*time.Second, func() bool { return e.srv.Connections() == 1 })
	if fast.isClosed() {
		t.Fatalf("the client that reads was cut: %v", fast.closed)
	}
	if peak := channels.PeakQueuedBytes(e.srv); peak > cfg.QueueBytes {
		t.Fatalf("a connection held %d bytes, over its bound of %d", peak, cfg.QueueBytes)
	}
	stuck.resume()
	err := stuck.closeErr(10 * time.Second)
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure && (ce.Code != websocket.ClosePolicyViolation || !strings.HasPrefix(ce.Text, "too slow")) {
		t.Fatalf("closed with %v, want 1008 too slow (or a plain close)", err)
	}

	// The others are served meanwhile, and the client catches up when
	// it comes back.
	id := e.post(vid, uid, name, "while it was stuck")
	fast.await(0, 10*time.Second, "the live post", func(f frame) bool {
		return f.Event == "new_annotation" && strings.Contains(string(f.Payload), `"id":`+itoa(id)+`,`)
	})
	back := e.dial(stok)
	back.mustJoin(topic, map[string]any{})
	back.caughtUp(topic)
	v := newPagedView()
	v.apply(received(back, topic))
	if !maps.Equal(v.bodies, e.fold(vid)) {
		t.Fatalf("after coming back the client shows %d annotations, the log has %d", len(v.bodies), len(e.fold(vid)))
	}
	t.Logf("cut after %d joins; the most a connection held: %d bytes", joins, channels.PeakQueuedBytes(e.srv))
}

// A client that joins once and never reads stops its catch-up once the
// sockets' buffers are full, and is cut when its write deadline passes.
func TestClientThatNeverReadsHitsWriteDeadline(t *testing.T) {
	cfg := pagedConfig(100)
	cfg.WriteTimeout = 300 * time.Millisecond
	e := newEnv(t, cfg, func(e *env) { e.tinyTCP = true })
	uid, name, _ := e.user("author")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	e.seed(vid, uid, name, 2000)
	_, _, stok := e.user("stuck")
	c := e.dial(stok)
	eventually(t, "the socket open", 10*time.Second, func() bool { return e.srv.Connections() == 1 })
	c.pause()
	ref := c.nextRef()
	c.send(ref, ref, topic, "phx_join", map[string]any{})
	eventually(t, "the client that does not read to be cut", 20*time.Second, func() bool { return e.srv.Connections() == 0 })
	c.resume()
	c.closeErr(10 * time.Second)
	// It got what the sockets' buffers took before its catch-up stopped.
	if got := len(received(c, topic)); got >= 2000 {
		t.Fatalf("a client that never read was sent %d frames: all of its history", got)
	}
	if peak := channels.PeakQueuedBytes(e.srv); peak > 256<<10+64<<10 {
		t.Fatalf("a client that never read made the server hold %d bytes: more than a page", peak)
	}
}
