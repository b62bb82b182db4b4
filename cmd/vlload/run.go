package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func run(ctx context.Context, cfg config, out io.Writer) error {
	a := &api{base: cfg.nodes()[0], http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	}}
	runID := strconv.FormatInt(time.Now().Unix()%1e6, 36)

	// Sign in.
	start := time.Now()
	tokens := make([]string, cfg.users)
	err := parallel(ctx, cfg.users, 16, func(i int) error {
		t, err := a.signIn(ctx, "vl"+runID+"-"+strconv.Itoa(i))
		tokens[i] = t
		return err
	})
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	fmt.Fprintf(out, "signed in %d users in %v\n", cfg.users, time.Since(start).Round(time.Millisecond))
	vid, err := a.addVideo(ctx, tokens[0])
	if err != nil {
		return err
	}
	topic := "videos:" + strconv.FormatInt(vid, 10)

	// Connect and join.
	var rssBefore int64
	if cfg.serverPID > 0 {
		if rssBefore, err = rssKiB(cfg.serverPID); err != nil {
			return err
		}
	}
	viewers := make([]*viewer, cfg.users)
	joinCPU, toolCPU := cpuTime(cfg.serverPID), cpuTime(os.Getpid())
	start = time.Now()
	err = parallel(ctx, cfg.users, cfg.connects, func(i int) error {
		v, err := dialViewer(ctx, cfg.node(i), tokens[i], topic)
		viewers[i] = v
		return err
	})
	joinTime := time.Since(start)
	joinCPU, toolCPU = cpuTime(cfg.serverPID)-joinCPU, cpuTime(os.Getpid())-toolCPU
	defer func() { // after the receiver has stopped (defers run last first)
		for _, v := range viewers {
			if v != nil {
				v.close()
			}
		}
	}()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	for _, v := range viewers {
		v.expect(cfg.posts)
	}
	// Posting as fast as the server answers, the receiver never idles
	// for long, and a spin (which does not let Go poll the network) held
	// up the posters' replies until the server dropped them as too slow:
	// the receiver spins only between paced posts.
	spin := cfg.spin
	if cfg.rate == 0 {
		spin = 0
	}
	stopReceive, err := receive(viewers, spin)
	if err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	defer stopReceive()
	fmt.Fprintf(out, "connect+join of %d viewers: %v\n", cfg.users, joinTime.Round(time.Millisecond))
	if cfg.serverPID > 0 {
		fmt.Fprintf(out, "server CPU during connect+join: %v (vlload: %v)\n", joinCPU.Round(time.Millisecond), toolCPU.Round(time.Millisecond))
	}
	// Heartbeats from here, as the phoenix client sends them: the server
	// closes a socket that is silent for its idle timeout (75 s), and the
	// idle measurement below must be of open connections.
	hctx, stopBeat := context.WithCancel(ctx)
	defer stopBeat()
	go heartbeat(hctx, viewers)
	if cfg.serverPID > 0 {
		// Read after 2 s, when the joins' garbage is mostly still there,
		// and, with a longer --idle, once more when the server has been
		// idle that long (Go collects at least every 2 minutes and then
		// returns freed memory to the system).
		idle := time.Now()
		for _, at := range []time.Duration{min(2*time.Second, cfg.idle), cfg.idle} {
			if at < time.Since(idle) {
				continue
			}
			time.Sleep(at - time.Since(idle))
			after, err := rssKiB(cfg.serverPID)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "server RSS: %d KiB before, %d KiB after %v idle: %.1f KiB per idle connection (%d of %d open)\n",
				rssBefore, after, at, float64(after-rssBefore)/float64(cfg.users), openViewers(viewers), cfg.users)
		}
	}
	if cfg.settle > 0 {
		if took, quiet := settle(ctx, viewers, time.Second, cfg.settle); quiet {
			fmt.Fprintf(out, "the joins' presence stopped arriving %v after the joins\n", took.Round(time.Millisecond))
		} else {
			fmt.Fprintf(out, "the joins' presence still arriving after %v: posting anyway\n", took.Round(time.Millisecond))
		}
	}
	posters := make([]*viewer, cfg.posters)
	for i := range posters {
		if posters[i], err = connect(ctx, cfg.node(i), tokens[i], topic); err != nil {
			return fmt.Errorf("poster: %w", err)
		}
		go posters[i].read()
		defer posters[i].close()
	}

	// Post, and react.
	serverCPU, ownCPU := cpuTime(cfg.serverPID), cpuTime(os.Getpid())
	firstPost := time.Now()
	var reactors []*reactor
	reacted := func() {}
	if cfg.reactRate > 0 {
		if reactors, reacted, err = startReactors(ctx, cfg, tokens[cfg.posters:], topic, firstPost); err != nil {
			return err
		}
		defer func() {
			for _, r := range reactors {
				r.v.close()
			}
		}()
	}
	kill, err := startKiller(ctx, cfg, topic, tokens, viewers, firstPost)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var sendErr atomic.Value
	for p, pv := range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := post(ctx, cfg, p, pv, topic, firstPost); err != nil && !(kill != nil && p%len(cfg.nodes()) == cfg.killNode) {
				sendErr.Store(err)
			}
		}()
	}
	wg.Wait()
	reacted()
	if err, _ := sendErr.Load().(error); err != nil {
		return fmt.Errorf("post: %w", err)
	}
	deadline := time.Now().Add(cfg.drain)
	posted, refused := awaitReplies(cfg, posters, deadline)
	postTime := time.Since(firstPost)
	var ack []int64
	for _, pv := range posters {
		pv.mu.Lock()
		ack = append(ack, pv.ackLat...)
		pv.mu.Unlock()
	}
	slices.Sort(posted)
	fmt.Fprintf(out, "posted %d annotations (%d refused, %d unanswered) in %v: %.0f/s\n",
		len(posted), refused, cfg.posts-len(posted)-refused, postTime.Round(time.Millisecond), float64(len(posted))/postTime.Seconds())

	slices.Sort(ack)
	fmt.Fprintf(out, "reply latency post->ok (durable in the log): p50 %v, p99 %v, max %v\n",
		percentile(ack, 0.50), percentile(ack, 0.99), percentile(ack, 1))

	// Wait for deliveries.
	for time.Now().Before(deadline) {
		done := true
		for _, v := range viewers {
			v.mu.Lock()
			n := len(v.ids)
			v.mu.Unlock()
			if n < len(posted) {
				done = false
				break
			}
		}
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let any duplicate arrive
	busy := time.Since(firstPost)
	killErr := kill.stop(out)
	if all := unanswered(posted, viewers); len(all) > len(posted) {
		fmt.Fprintf(out, "%d posts unanswered when the wait ended were delivered: counted as posted\n", len(all)-len(posted))
		posted = all
	}
	if cfg.serverPID > 0 {
		fmt.Fprintf(out, "CPU while posting and delivering (%v): server %.0f%%, vlload %.0f%% of one core\n", busy.Round(time.Millisecond),
			100*(cpuTime(cfg.serverPID)-serverCPU).Seconds()/busy.Seconds(), 100*(cpuTime(os.Getpid())-ownCPU).Seconds()/busy.Seconds())
	}
	report(out, cfg, viewers, posted, firstPost)
	reportPresence(out, viewers)
	if cfg.reactRate > 0 {
		reportReactions(out, reactors, viewers, time.Duration(float64(cfg.posts)/cfg.rate*float64(time.Second)))
	}
	return killErr
}

// openViewers counts the viewers whose socket is still read.
func openViewers(viewers []*viewer) int {
	n := 0
	for _, v := range viewers {
		v.mu.Lock()
		if v.readErr == nil {
			n++
		}
		v.mu.Unlock()
	}
	return n
}

func heartbeat(ctx context.Context, viewers []*viewer) {
	t := time.NewTicker(25 * time.Second)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, v := range viewers {
				_ = v.write(`[null,"h` + strconv.Itoa(n) + `","phoenix","heartbeat",{}]`)
			}
		}
	}
}

// report checks each viewer against the posted ids and prints the numbers.
func report(out io.Writer, cfg config, viewers []*viewer, posted []int64, firstPost time.Time) {
	var lat, readLat []int64
	why := map[string]int{} // sockets closed, by error
	deliveries, exact, gaps, dups, disorder, closed := 0, 0, 0, 0, 0, 0
	for _, v := range viewers {
		v.mu.Lock()
		ids := slices.Clone(v.ids)
		lat = append(lat, v.lat...)
		readLat = append(readLat, v.readLat...)
		if v.readErr != nil {
			closed++
			why[v.readErr.Error()]++
		}
		v.mu.Unlock()
		deliveries += len(ids)
		if slices.Equal(ids, posted) {
			exact++
			continue
		}
		seen := make(map[int64]int, len(ids))
		for i, id := range ids {
			seen[id]++
			if i > 0 && id <= ids[i-1] {
				disorder++
			}
		}
		for _, id := range posted {
			if seen[id] == 0 {
				gaps++
			}
		}
		for _, n := range seen {
			if n > 1 {
				dups += n - 1
			}
		}
	}
	slices.Sort(lat)
	slices.Sort(readLat)
	// Deliveries per second: from the first post to the last receipt.
	var lastAt int64
	for _, v := range viewers {
		v.mu.Lock()
		lastAt = max(lastAt, v.lastAt)
		v.mu.Unlock()
	}
	span := max(time.Millisecond, time.Duration(lastAt-firstPost.UnixNano()))
	fmt.Fprintf(out, "deliveries: %d of %d expected, in %v: %.0f/s\n",
		deliveries, len(posted)*len(viewers), span.Round(time.Millisecond), float64(deliveries)/span.Seconds())
	fmt.Fprintf(out, "latency post->arrival in the viewer's socket (kernel receive time): p50 %v, p99 %v, max %v\n",
		percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 1))
	fmt.Fprintf(out, "latency post->read by this tool (adds its own queueing): p50 %v, p99 %v, max %v\n",
		percentile(readLat, 0.50), percentile(readLat, 0.99), percentile(readLat, 1))
	fmt.Fprintf(out, "viewers exact: %d of %d; missing %d, duplicated %d, out of order %d, sockets closed %d\n",
		exact, len(viewers), gaps, dups, disorder, closed)
	for _, reason := range slices.Sorted(maps.Keys(why)) {
		fmt.Fprintf(out, "  closed: %d × %s\n", why[reason], reason)
	}
}

// parallel runs fn(0..n-1) with at most width at once and returns the
// first error.
func parallel(ctx context.Context, n, width int, fn func(i int) error) error {
	var next atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range min(n, width) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil || first.Load() != nil {
					return
				}
				if err := fn(i); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return ctx.Err()
}

// percentile is the p-th of sorted nanosecond durations, rounded to 10 µs.
func percentile(sorted []int64, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return time.Duration(sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]).Round(10 * time.Microsecond)
}
