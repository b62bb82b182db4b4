package channels_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// watcher is a viewer of one video that joins, leaves, rejoins and
// reconnects, always with the last id it saw, and keeps everything it was
// shown, across its connections, in order.
type watcher struct {
	e     *env
	tok   string
	topic string
	c     *client
	jr    string
	past  []int64 // ids shown on earlier connections
}

func newWatcher(e *env, tok, topic string, lastSeen int64) *watcher {
	w := &watcher{e: e, tok: tok, topic: topic, c: e.dial(tok)}
	if lastSeen > 0 {
		w.past = []int64{lastSeen} // stands for "everything up to lastSeen"
	}
	w.jr = w.c.mustJoin(topic, map[string]any{"last_seen_id": lastSeen})
	return w
}

func (w *watcher) seen() []int64 {
	return append(append([]int64(nil), w.past...), ids(w.c.annotations(w.topic))...)
}

// lastIn is the last id seen, given the current connection's frames.
func (w *watcher) lastIn(frames []frame) int64 {
	s := append(append([]int64(nil), w.past...), ids(annotationsOf(frames, w.topic))...)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

// join joins with last_seen_id taken as the JS client's params function
// does: from what was shown when the join is sent.
func (w *watcher) join() {
	_, f := w.c.joinFn(w.topic, func(frames []frame) any { return map[string]any{"last_seen_id": w.lastIn(frames)} })
	if st, _ := f.reply(); st != "ok" {
		w.e.t.Errorf("rejoin: %s", f.Payload)
	}
	w.jr = f.joinRef()
}

func (w *watcher) last() int64 {
	s := w.seen()
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

// rejoin leaves and joins again on the same socket.
func (w *watcher) rejoin() {
	w.c.request(w.jr, w.topic, "phx_leave", map[string]any{})
	w.join()
}

// joinAgain sends phx_join for the joined topic, as the JS client does
// after a channel error or timeout.
func (w *watcher) joinAgain() {
	w.join()
}

// reconnect drops the socket and joins on a new one.
func (w *watcher) reconnect() {
	w.c.close()
	w.redial()
}

// redial joins on a new socket, after the old one ended.
func (w *watcher) redial() {
	w.past = w.seen()
	w.c = w.e.dial(w.tok)
	w.join()
}

func (w *watcher) waitFor(t testing.TB, id int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for w.last() < id {
		if time.Now().After(deadline) {
			why := "its socket is open"
			if w.c.isClosed() {
				why = fmt.Sprintf("its socket closed: %v", w.c.closed)
			}
			t.Fatalf("watcher stuck at %d, waiting for %d; %s", w.last(), id, why)
		}
		w.c.tryAwait(w.c.count(), 50*time.Millisecond, func(frame) bool { return true })
	}
}

// checkExact fails unless got is the log's ids after base, in order.
func checkExact(t testing.TB, who string, got, log []int64, base int64) {
	t.Helper()
	var want []int64
	for _, id := range log {
		if id > base {
			want = append(want, id)
		}
	}
	if len(got) > 0 && base > 0 && got[0] == base {
		got = got[1:] // the stand-in for what was seen before
	}
	if !equal(got, want) {
		t.Errorf("%s saw %d annotations, log has %d after %d\n  first difference: %s", who, len(got), len(want), base, firstDiff(got, want))
	}
}

func firstDiff(got, want []int64) string {
	for i := range max(len(got), len(want)) {
		var g, w any = "none", "none"
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("at %d: got %v, want %v (got …%v)", i, g, w, got[max(0, i-3):min(len(got), i+3)])
		}
	}
	return "none"
}

func TestExactnessUnderConcurrency(t *testing.T) {
	e := newEnv(t, permissive())
	owner, _, _ := e.user("owner")
	vid := e.video(owner)
	topic := "videos:" + itoa(vid)

	const posters, posts, watchers = 4, 50, 5
	var wg sync.WaitGroup
	stop := make(chan struct{})
	ws := make([]*watcher, watchers)
	for i := range ws {
		_, _, tok := e.user("watcher")
		ws[i] = newWatcher(e, tok, topic, 0)
	}
	var postWG sync.WaitGroup
	for p := range posters {
		_, _, tok := e.user("poster")
		c := e.dial(tok)
		jr := c.mustJoin(topic, map[string]any{})
		postWG.Add(1)
		go func() {
			defer postWG.Done()
			for i := range posts {
				f := c.request(jr, topic, "new_annotation", map[string]any{"body": fmt.Sprintf("p%d-%d", p, i), "at": i})
				if st, _ := f.reply(); st != "ok" {
					t.Errorf("post refused: %s", f.Payload)
					return
				}
				time.Sleep(time.Millisecond) // let the churn interleave
			}
		}()
	}
	// Watchers churn while the posts land.
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(5+r.IntN(25)) * time.Millisecond):
				}
				switch r.IntN(3) {
				case 0:
					w.rejoin()
				case 1:
					w.joinAgain()
				default:
					w.reconnect()
				}
			}
		}()
	}
	// A latecomer that has seen up to some id joins mid-stream.
	time.Sleep(30 * time.Millisecond)
	log := e.logIDs(vid)
	var late *watcher
	var lateBase int64
	if len(log) > 3 {
		lateBase = log[len(log)/2]
		_, _, tok := e.user("late")
		late = newWatcher(e, tok, topic, lateBase)
	}
	postWG.Wait()
	close(stop)
	wg.Wait()
	log = e.logIDs(vid)
	if len(log) != posters*posts {
		t.Fatalf("log has %d annotations, want %d", len(log), posters*posts)
	}
	for i, w := range ws {
		w.waitFor(t, log[len(log)-1])
		checkExact(t, fmt.Sprintf("watcher %d", i), w.seen(), log, 0)
	}
	if late != nil {
		late.waitFor(t, log[len(log)-1])
		checkExact(t, "latecomer", late.seen(), log, lateBase)
	}
}

func TestExactnessAcrossRestart(t *testing.T) {
	e := newEnv(t, permissive())
	uid, name, tok := e.user("poster")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	ws := []*watcher{}
	for range 3 {
		_, _, wtok := e.user("w")
		ws = append(ws, newWatcher(e, wtok, topic, 0))
	}
	post := func(n int, label string) {
		c := e.dial(tok)
		jr := c.mustJoin(topic, map[string]any{})
		for i := range n {
			if st, _ := c.request(jr, topic, "new_annotation", map[string]any{"body": label + itoa(int64(i)), "at": i}).reply(); st != "ok" {
				t.Fatal("post refused")
			}
		}
		c.close()
	}
	post(15, "before-")
	// The server restarts; the clients are told to go away.
	e.restart()
	for i, w := range ws {
		var ce *websocket.CloseError
		if err := w.c.closeErr(5 * time.Second); !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Errorf("watcher %d: socket ended with %v, want close 1001", i, err)
		}
	}
	// Annotations land before the clients are back (another node, say).
	for i := range 10 {
		e.post(vid, uid, name, "while-away-"+itoa(int64(i)))
	}
	for _, w := range ws {
		w.redial()
	}
	post(15, "after-")
	log := e.logIDs(vid)
	if len(log) != 40 {
		t.Fatalf("log has %d annotations, want 40", len(log))
	}
	for i, w := range ws {
		w.waitFor(t, log[len(log)-1])
		checkExact(t, fmt.Sprintf("watcher %d", i), w.seen(), log, 0)
	}
}

func TestSlowClientDisconnectedAlone(t *testing.T) {
	cfg := permissive()
	// Small enough that the paused client overflows long before the 150
	// posts end, large enough that the fast one, on a loaded machine,
	// never falls that far behind.
	cfg.QueueSize = 64
	e := &env{t: t, dir: t.TempDir(), cfg: cfg, nodeName: "slow", tinyTCP: true}
	e.start()
	t.Cleanup(func() {
		if e.running {
			e.stop()
		}
	})
	uid, _, tok := e.user("poster")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	_, _, ftok := e.user("fast")
	_, _, stok := e.user("slow")
	fast := newWatcher(e, ftok, topic, 0)
	slow := newWatcher(e, stok, topic, 0)
	slow.c.pause()

	poster := e.dial(tok)
	pj := poster.mustJoin(topic, map[string]any{})
	const n = 150
	body := strings.Repeat("x", 900)
	for i := range n {
		if st, _ := poster.request(pj, topic, "new_annotation", map[string]any{"body": body, "at": i}).reply(); st != "ok" {
			t.Fatal("post refused")
		}
	}
	log := e.logIDs(vid)
	// The others got everything while the slow one was stuck.
	fast.waitFor(t, log[len(log)-1])
	checkExact(t, "fast watcher", fast.seen(), log, 0)
	eventually(t, "the slow client to be disconnected", 15*time.Second, func() bool { return e.srv.Connections() == 2 })

	slow.c.resume()
	slow.c.closeErr(10 * time.Second)
	got := len(slow.seen())
	if got >= n {
		t.Fatalf("the slow client received all %d annotations before its disconnection; the test did not exercise overflow", got)
	}
	slow.redial()
	slow.waitFor(t, log[len(log)-1])
	checkExact(t, "slow watcher after rejoin", slow.seen(), log, 0)
	t.Logf("slow client received %d of %d before disconnection, the rest after rejoin", got, n)
}

// When posts come faster than the server can write them out, the backlog
// is the server's: its healthy clients must not be cut as too slow. The
// hubs wait for the flusher (see conn.fanOut) instead of filling their
// connections' queues, here 32 frames deep (twice the requests a
// connection may have in flight, whose replies queue too).
func TestServerBacklogCutsNoHealthyClient(t *testing.T) {
	cfg := permissive()
	cfg.QueueSize = 32
	e := newEnv(t, cfg)
	uid, _, tok := e.user("poster")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	const viewers, posters, each = 100, 4, 100
	ws := make([]*watcher, viewers)
	for i := range ws {
		_, _, vtok := e.user(fmt.Sprintf("viewer%d", i))
		ws[i] = newWatcher(e, vtok, topic, 0)
	}
	ps := make([]*client, posters)
	pjs := make([]string, posters)
	for i := range ps {
		ps[i] = e.dial(tok)
		pjs[i] = ps[i].mustJoin(topic, map[string]any{})
	}
	// Every poster pushes all of its posts without waiting for replies.
	for n := range each {
		for i, p := range ps {
			p.send(pjs[i], p.nextRef(), topic, "new_annotation", map[string]any{"body": fmt.Sprint("post ", i, " ", n), "at": n})
		}
	}
	eventually(t, "every post in the log", 20*time.Second, func() bool {
		if n := e.srv.Connections(); n != viewers+posters {
			t.Fatalf("%d connections open, want %d: the server cut clients for its own backlog", n, viewers+posters)
		}
		return len(e.logIDs(vid)) == posters*each
	})
	log := e.logIDs(vid)
	for i, w := range ws {
		w.waitFor(t, log[len(log)-1])
		checkExact(t, fmt.Sprintf("viewer %d", i), w.seen(), log, 0)
	}
	if n := e.srv.Connections(); n != viewers+posters {
		t.Fatalf("%d connections open, want %d: the server cut clients for its own backlog", n, viewers+posters)
	}
}
