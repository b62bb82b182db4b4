package system

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// chaosStats are the counts the chaos test prints.
type chaosStats struct {
	postsOK, postsFailed, postsUnknown atomic.Int64
	joins, rejoins, deliveries         atomic.Int64
	violations                         atomic.Int64
}

// chaosClient is one protocol client: it joins one video, keeps what it
// receives, and rejoins with the last id it saw whenever its connection
// ends, by its own choice or the server's.
type chaosClient struct {
	name  string
	token string
	ip    string // the loopback address it connects from: its account's
	video int64
	// poster clients push annotations with bodies "<name>-<n>".
	poster bool

	seen  []int64 // every annotation id received, in order of receipt
	acked map[int64]string
	errs  []string
}

func (c *chaosClient) last() int64 {
	if len(c.seen) == 0 {
		return 0
	}
	return c.seen[len(c.seen)-1]
}

func (c *chaosClient) receive(st *chaosStats, a wireAnnotation) {
	st.deliveries.Add(1)
	if a.ID != c.last()+1 {
		st.violations.Add(1)
		if len(c.errs) < 5 {
			c.errs = append(c.errs, fmt.Sprintf("received id %d after %d", a.ID, c.last()))
		}
	}
	c.seen = append(c.seen, a.ID)
}

// chaosRun is what every client shares.
type chaosRun struct {
	srv    *server
	st     *chaosStats
	target int64        // acknowledged posts to reach
	final  atomic.Value // map[int64]int64: once set, each client stops at its video's last id
	down   atomic.Bool  // the server is being killed: stop posting for a moment
}

// The chaos test of exact delivery (issue 7): hundreds of clients on five
// videos, posters posting thousands of annotations, random disconnects and
// rejoins with last_seen_id, and the server SIGKILLed and restarted under
// them. At the end every client's view of its video is the log's, exactly,
// and every acknowledged post is in the log with its body.
func TestChaosExactDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test: not in -short mode")
	}
	const (
		nVideos  = 5
		nViewers = 200
		nPosters = 20
		nUsers   = 40 // viewer accounts, shared by 5 viewer clients each: within the per-user connect limit
	)
	target := int64(5000)
	if v, err := strconv.Atoi(os.Getenv("CHAOS_POSTS")); err == nil && v > 0 {
		target = int64(v)
	}
	// Every client's socket comes from 127.0.0.1: lift the cap on
	// connections per address.
	srv := startServer(t, "--max-conns-per-addr", "0")
	owner := srv.signUp(t, "owner", "127.0.0.2")
	videos := make([]int64, nVideos)
	for i := range videos {
		videos[i] = srv.addVideo(t, owner, "chaos "+strconv.Itoa(i))
	}
	posters := srv.signUpMany(t, "poster", 1, nPosters)
	viewers := srv.signUpMany(t, "viewer", 2, nUsers)

	run := &chaosRun{srv: srv, st: &chaosStats{}, target: target}
	var clients []*chaosClient
	for i := range nViewers {
		clients = append(clients, &chaosClient{name: "v" + strconv.Itoa(i), token: viewers[i%nUsers].Token, ip: viewers[i%nUsers].IP, video: videos[i%nVideos]})
	}
	for i, p := range posters {
		clients = append(clients, &chaosClient{name: "p" + strconv.Itoa(i), token: p.Token, ip: p.IP, video: videos[i%nVideos], poster: true, acked: map[int64]string{}})
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range clients {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		wg.Go(func() { run.client(c, rng) })
	}

	// Kill the server three times while the posts flow.
	for _, at := range []int64{target / 5, target / 2, target * 4 / 5} {
		for run.st.postsOK.Load() < at {
			time.Sleep(20 * time.Millisecond)
		}
		run.down.Store(true)
		srv.kill()
		time.Sleep(time.Duration(200+rand.IntN(400)) * time.Millisecond)
		srv.start()
		run.down.Store(false)
	}
	for run.st.postsOK.Load() < target {
		time.Sleep(20 * time.Millisecond)
	}
	// Posters stop at the target. Stop the server gracefully, read the
	// log, and restart: every client must then reach the log's last id.
	time.Sleep(200 * time.Millisecond)
	if err := srv.stop(); err != nil {
		t.Fatalf("server exit after SIGTERM: %v", err)
	}
	logs := srv.readLog(t, videos)
	final := make(map[int64]int64)
	for _, v := range videos {
		if n := len(logs[v]); n > 0 {
			final[v] = logs[v][n-1].ID
		}
	}
	run.final.Store(final)
	srv.start()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("clients did not all catch up with the log within 90s of the last restart")
	}
	elapsed := time.Since(start)

	// Each client's view is the log, exactly; each acknowledged post is
	// in it with its body.
	bad := 0
	for _, c := range clients {
		want := logs[c.video]
		ok := len(c.seen) == len(want)
		for i := 0; ok && i < len(want); i++ {
			ok = c.seen[i] == want[i].ID
		}
		if !ok {
			bad++
			if bad <= 5 {
				t.Errorf("client %s on video %d: saw %d annotations (last %d), log has %d; %v", c.name, c.video, len(c.seen), c.last(), len(want), c.errs)
			}
		}
		for id, body := range c.acked {
			if id < 1 || id > int64(len(want)) || want[id-1].Body != body {
				t.Errorf("acknowledged post %q (id %d) of %s is not in the log of video %d", body, id, c.name, c.video)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d clients' views differ from the log", bad, len(clients))
	}
	if v := run.st.violations.Load(); v > 0 {
		t.Errorf("%d gaps or duplicates seen while receiving", v)
	}
	total := 0
	for _, v := range videos {
		total += len(logs[v])
	}
	t.Logf("chaos: %d clients (%d posters) on %d videos, %s; posts ok %d, failed %d, unanswered %d; log %d annotations; kills %d; joins %d (rejoins %d); deliveries %d",
		len(clients), nPosters, nVideos, elapsed.Round(time.Millisecond), run.st.postsOK.Load(), run.st.postsFailed.Load(), run.st.postsUnknown.Load(),
		total, srv.Kills, run.st.joins.Load(), run.st.rejoins.Load(), run.st.deliveries.Load())
	if srv.Kills < 2 || run.st.postsOK.Load() < target {
		t.Errorf("too little chaos: %d kills, %d posts acknowledged", srv.Kills, run.st.postsOK.Load())
	}
}

// client runs one client until it has reached its video's final id.
func (r *chaosRun) client(c *chaosClient, rng *rand.Rand) {
	first := true
	for {
		if f, _ := r.final.Load().(map[int64]int64); f != nil && c.last() == f[c.video] {
			return
		}
		// From its account's address, as a user's devices share one:
		// the limits per address and per user hold what one host may do.
		ws, _, _, err := dialFrom(r.srv, c.token, c.ip)
		if err != nil {
			time.Sleep(time.Duration(50+rng.IntN(200)) * time.Millisecond)
			continue
		}
		if !first {
			r.st.rejoins.Add(1)
		}
		first = false
		// Each connection lives 0.5 to 6 s, then the client drops it
		// (randomly, with or without a close frame) and rejoins.
		life := time.Duration(500+rng.IntN(5500)) * time.Millisecond
		r.connection(c, ws, rng, time.Now().Add(life))
		if rng.IntN(2) == 0 {
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		}
		ws.Close()
		time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
	}
}

// connection joins on ws and reads (and, for posters, posts) until the
// deadline, the connection ends, or the client reached the final id.
func (r *chaosRun) connection(c *chaosClient, ws *websocket.Conn, rng *rand.Rand, until time.Time) {
	topic := "videos:" + strconv.FormatInt(c.video, 10)
	joinRef := strconv.Itoa(rng.IntN(1 << 30))
	if send(ws, joinRef, joinRef, topic, "phx_join", map[string]int64{"last_seen_id": c.last()}) != nil {
		return
	}
	_ = ws.SetReadDeadline(until)

	var mu sync.Mutex // guards c.seen/c.acked against the poster goroutine's reads of pending
	pending := map[string]string{}
	joined := make(chan struct{})
	stopPosting := make(chan struct{})
	var posting sync.WaitGroup
	if c.poster {
		posting.Go(func() {
			select {
			case <-joined:
			case <-stopPosting:
				return
			}
			tick := time.NewTicker(125 * time.Millisecond) // under the 10/s per-user push limit
			defer tick.Stop()
			n := 0
			for {
				select {
				case <-stopPosting:
					return
				case <-tick.C:
				}
				if r.down.Load() || r.st.postsOK.Load() >= r.target {
					continue
				}
				n++
				ref := c.name + "." + strconv.Itoa(n) + "." + joinRef
				body := c.name + "-" + strconv.Itoa(n) + "-" + joinRef
				mu.Lock()
				pending[ref] = body
				mu.Unlock()
				if send(ws, joinRef, ref, topic, "new_annotation", map[string]any{"body": body, "at": rng.IntN(600_000)}) != nil {
					return
				}
			}
		})
	}
	defer func() {
		close(stopPosting)
		posting.Wait()
		r.st.postsUnknown.Add(int64(len(pending)))
	}()
	isJoined := false
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var f frame
		if json.Unmarshal(data, &f) != nil || f.Topic != topic {
			continue
		}
		switch {
		case f.Event == "phx_reply" && f.ref() == joinRef:
			status, resp, _ := f.reply()
			if status != "ok" {
				return
			}
			var out struct {
				Annotations []wireAnnotation `json:"annotations"`
			}
			_ = json.Unmarshal(resp, &out)
			mu.Lock()
			for _, a := range out.Annotations {
				c.receive(r.st, a)
			}
			mu.Unlock()
			r.st.joins.Add(1)
			isJoined = true
			close(joined)
		case f.Event == "phx_reply":
			status, resp, _ := f.reply()
			mu.Lock()
			body, ok := pending[f.ref()]
			delete(pending, f.ref())
			if ok && status == "ok" {
				var out struct {
					ID int64 `json:"id"`
				}
				_ = json.Unmarshal(resp, &out)
				c.acked[out.ID] = body
				r.st.postsOK.Add(1)
			} else if ok {
				r.st.postsFailed.Add(1)
			}
			mu.Unlock()
		case f.Event == "new_annotation" && isJoined:
			var a wireAnnotation
			if json.Unmarshal(f.Payload, &a) == nil {
				mu.Lock()
				c.receive(r.st, a)
				mu.Unlock()
			}
		case f.Event == "phx_error" || f.Event == "phx_close":
			return
		}
		if fm, _ := r.final.Load().(map[int64]int64); fm != nil && c.last() == fm[c.video] {
			return
		}
	}
}
