package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// stormCheck is how the ids one viewer received after rejoining differ
// from those posted while it was away.
type stormCheck struct {
	missing    int // posted, never received
	duplicated int // received more than once
	unexpected int // received, above lastSeen, never posted
	disorder   int // received after a larger id
}

func (c stormCheck) exact() bool { return c == stormCheck{} }

// checkStorm compares ids, in the order received, with posted (sorted
// ascending); ids up to lastSeen, which the viewer had before it left,
// are ignored.
func checkStorm(ids []int64, lastSeen int64, posted []int64) stormCheck {
	var c stormCheck
	want := make(map[int64]bool, len(posted))
	for _, id := range posted {
		want[id] = true
	}
	seen := make(map[int64]int, len(posted))
	prev := lastSeen
	for _, id := range ids {
		if id <= lastSeen {
			continue
		}
		if id <= prev {
			c.disorder++
		}
		prev = max(prev, id)
		seen[id]++
		switch {
		case !want[id]:
			c.unexpected++
		case seen[id] > 1:
			c.duplicated++
		}
	}
	for _, id := range posted {
		if seen[id] == 0 {
			c.missing++
		}
	}
	return c
}

// joinFrameSeen is the phx_join of topic by a client that has applied
// everything up to the annotation id and the revision rev.
func joinFrameSeen(topic string, id, rev int64) string {
	return `["1","1",` + strconv.Quote(topic) + `,"phx_join",{"last_seen_id":` +
		strconv.FormatInt(id, 10) + `,"last_seen_rev":` + strconv.FormatInt(rev, 10) + `}]`
}

// stormClient is one viewer's rejoin: its catch-up and when it dialled.
type stormClient struct {
	catchUpResult
	ws           *websocket.Conn
	dialed, done time.Time
	dialErr      error
}

// runStorm has cfg.storm viewers join a video and read until caught_up,
// drop together, and, once cfg.stormPost annotations have been posted in
// their absence, all dial and rejoin at once with the last id and rev
// each saw. Each must receive exactly the ids posted, once and in order.
func runStorm(ctx context.Context, cfg config, out io.Writer) error {
	n := cfg.storm
	a := &api{base: cfg.url, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	}}
	runID := strconv.FormatInt(time.Now().Unix()%1e6, 36)
	start := time.Now()
	tokens := make([]string, n)
	if err := parallel(ctx, n, 16, func(i int) error {
		t, err := a.signIn(ctx, "vs"+runID+"-"+strconv.Itoa(i))
		tokens[i] = t
		return err
	}); err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	fmt.Fprintf(out, "signed in %d users in %v\n", n, time.Since(start).Round(time.Millisecond))
	vid := cfg.video
	if vid <= 0 {
		var err error
		if vid, err = a.addVideo(ctx, tokens[0]); err != nil {
			return err
		}
	}
	topic := "videos:" + strconv.FormatInt(vid, 10)

	// Join and catch up; then drop together.
	first := make([]stormClient, n)
	start = time.Now()
	joinAll(ctx, cfg, tokens, first, func(int) string { return joinFrame(topic) }, topic, false)
	for i, c := range first {
		if c.dialErr != nil || !c.caughtUp {
			closeAll(first)
			return fmt.Errorf("viewer %d: first join: dial %v, caught up %v, read %v", i, c.dialErr, c.caughtUp, c.readErr)
		}
	}
	fmt.Fprintf(out, "%d viewers joined video %d and caught up in %v\n", n, vid, time.Since(start).Round(time.Millisecond))
	closeAll(first)

	// Post while they are away.
	pcfg := cfg
	pcfg.posts, pcfg.rate, pcfg.posters = cfg.stormPost, 0, min(cfg.posters, n)
	posted, err := postAway(ctx, pcfg, tokens, topic)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "posted %d annotations while the viewers were away\n", len(posted))

	// Rejoin at once.
	rss, err := sampleRSS(cfg.serverPID)
	if err != nil {
		return err
	}
	again := make([]stormClient, n)
	serverCPU, ownCPU := cpuTime(cfg.serverPID), cpuTime(os.Getpid())
	storm := time.Now()
	joinAll(ctx, cfg, tokens, again, func(i int) string {
		return joinFrameSeen(topic, max(first[i].lastID, first[i].caughtUpID), first[i].lastRev)
	}, topic, true)
	rssBefore, rssPeak := rss.stop()
	busy := time.Since(storm)
	serverCPU, ownCPU = cpuTime(cfg.serverPID)-serverCPU, cpuTime(os.Getpid())-ownCPU
	closeAll(again)

	var last time.Time
	var took []time.Duration
	exact, largest := 0, 0
	var sum stormCheck
	for i, c := range again {
		largest = max(largest, c.largest)
		if c.dialErr != nil || !c.caughtUp {
			fmt.Fprintf(out, "viewer %d: dial %v, caught up %v, read %v\n", i, c.dialErr, c.caughtUp, c.readErr)
			continue
		}
		last = later(last, c.done)
		took = append(took, c.done.Sub(c.dialed))
		ck := checkStorm(c.ids, max(first[i].lastID, first[i].caughtUpID), posted)
		if ck.exact() {
			exact++
			continue
		}
		sum.missing += ck.missing
		sum.duplicated += ck.duplicated
		sum.unexpected += ck.unexpected
		sum.disorder += ck.disorder
	}
	slices.Sort(took)
	fmt.Fprintf(out, "%d viewers rejoined at once: %d exact of %d (%d annotations each expected); missing %d, duplicated %d, unexpected %d, out of order %d\n",
		n, exact, n, len(posted), sum.missing, sum.duplicated, sum.unexpected, sum.disorder)
	if len(took) > 0 {
		fmt.Fprintf(out, "first rejoin dial to last caught_up: %v; per client, dial to caught_up: median %v, max %v\n",
			last.Sub(storm).Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	}
	reportRejoin(out, again)
	fmt.Fprintf(out, "largest frame: %d bytes\n", largest)
	if cfg.serverPID > 0 {
		// The tool parses every frame it reads: on a machine it shares
		// with the server, its CPU is taken from the server's.
		fmt.Fprintf(out, "CPU during the rejoins (%v): server %.0f%%, vlload %.0f%% of one core\n", busy.Round(time.Millisecond),
			100*serverCPU.Seconds()/busy.Seconds(), 100*ownCPU.Seconds()/busy.Seconds())
		fmt.Fprintf(out, "server RSS: %d MiB before the rejoins, %d MiB at most during (+%d MiB)\n", rssBefore>>10, rssPeak>>10, (rssPeak-rssBefore)>>10)
	}
	if exact != n {
		return fmt.Errorf("%d of %d viewers did not rejoin exactly", n-exact, n)
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// joinAll dials a socket for each token, cfg.connects at once, sends
// join(i) and reads until caught_up, into res. The sockets stay open
// for closeAll.
func joinAll(ctx context.Context, cfg config, tokens []string, res []stormClient, join func(i int) string, topic string, keep bool) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.connects)
	for i, tok := range tokens {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := &res[i]
			c.dialed = time.Now()
			u, err := socketURL(cfg.url, tok)
			if err != nil {
				c.dialErr = err
				return
			}
			ws, _, err := dialer.DialContext(ctx, u.String(), nil)
			if err != nil {
				c.dialErr = err
				return
			}
			c.ws = ws
			c.catchUpResult = catchUpFrom(ws, topic, join(i), keep)
			c.done = time.Now()
		}()
	}
	wg.Wait()
}

// closeAll closes the sockets of res together.
func closeAll(res []stormClient) {
	for i := range res {
		if res[i].ws != nil {
			res[i].ws.Close()
		}
	}
}

// postAway posts cfg.posts annotations to topic, as fast as the server
// answers, from cfg.posters sockets of the first users, and returns the
// ids given, sorted.
func postAway(ctx context.Context, cfg config, tokens []string, topic string) ([]int64, error) {
	posters := make([]*viewer, cfg.posters)
	defer func() {
		for _, pv := range posters {
			if pv != nil {
				pv.close()
			}
		}
	}()
	for i := range posters {
		pv, err := connect(ctx, cfg.url, tokens[i], topic)
		if err != nil {
			return nil, fmt.Errorf("poster: %w", err)
		}
		posters[i] = pv
		go pv.read()
	}
	start := time.Now()
	errs := make([]error, len(posters))
	var wg sync.WaitGroup
	for p, pv := range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = post(ctx, cfg, p, pv, topic, start)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("post: %w", err)
		}
	}
	posted, refused := awaitReplies(cfg, posters, time.Now().Add(cfg.drain))
	if refused > 0 || len(posted) != cfg.posts {
		return nil, fmt.Errorf("post: %d of %d posts answered with an id, %d refused", len(posted), cfg.posts, refused)
	}
	slices.Sort(posted)
	return posted, nil
}
