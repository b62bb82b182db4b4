package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// nodes are the servers' base URLs: --url may list several, comma
// separated, nodes of one deployment sharing a store. Viewer and poster i
// use node i mod len(nodes); sign-ins and the video go to the first.
func (c config) nodes() []string {
	return strings.Split(c.url, ",")
}

// node is the base URL viewer or poster i uses.
func (c config) node(i int) string {
	n := c.nodes()
	return n[i%len(n)]
}

// killer SIGKILLs a node (--kill-pid, --kill-node) under load, once half
// the posts are due, and moves the viewers it served to the next live
// node, where they rejoin with the last id they saw.
type killer struct {
	cfg     config
	topic   string
	tokens  []string
	viewers []*viewer

	firstPost, killedAt time.Time
	wg                  sync.WaitGroup
	mu                  sync.Mutex
	moved               []time.Duration // from the kill to caught_up on the new node
	failed              []error
	socks               []*viewer      // the moved viewers' new sockets
	presence            *presenceWatch // on a node that lives
}

// presenceWait bounds the wait for the killed node's viewers to leave the
// presence list: well past its bound with the servers' defaults (20 s, see
// docs/DEPLOYMENT.md).
const presenceWait = time.Minute

// startKiller watches the presence list on a node that will live, and
// arms the kill at firstPost plus the time of half the posts; it returns
// nil when no kill was asked for. stop closes the sockets it opened.
func startKiller(ctx context.Context, cfg config, topic string, tokens []string, viewers []*viewer, firstPost time.Time) (*killer, error) {
	if cfg.killPID <= 0 {
		return nil, nil
	}
	w, err := watchPresence(ctx, cfg.node(cfg.killNode+1), tokens[0], topic)
	if err != nil {
		return nil, err
	}
	k := &killer{cfg: cfg, topic: topic, tokens: tokens, viewers: viewers, firstPost: firstPost, presence: w}
	at := firstPost.Add(time.Duration(float64(cfg.posts/2) / cfg.rate * float64(time.Second)))
	k.wg.Go(func() {
		select {
		case <-time.After(time.Until(at)):
		case <-ctx.Done():
			return
		}
		k.killedAt = time.Now()
		if err := syscall.Kill(cfg.killPID, syscall.SIGKILL); err != nil {
			k.fail(fmt.Errorf("kill %d: %w", cfg.killPID, err))
			return
		}
		nodes := cfg.nodes()
		others := slices.Delete(slices.Clone(nodes), cfg.killNode, cfg.killNode+1)
		for i, v := range viewers {
			if i%len(nodes) == cfg.killNode {
				k.wg.Go(func() { k.move(ctx, i, v, others[i/len(nodes)%len(others)]) })
			}
		}
	})
	return k, nil
}

func (k *killer) fail(err error) {
	k.mu.Lock()
	k.failed = append(k.failed, err)
	k.mu.Unlock()
}

// move waits until v's socket to the killed node is closed, dials base,
// rejoins with the last id v received, and keeps reading there.
func (k *killer) move(ctx context.Context, i int, v *viewer, base string) {
	for {
		v.mu.Lock()
		closed := v.readErr != nil
		v.mu.Unlock()
		if closed {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	v.mu.Lock()
	last := int64(0)
	if len(v.ids) > 0 {
		last = v.ids[len(v.ids)-1]
	}
	v.mu.Unlock()
	// Our own client, as the viewer's first socket: a compressed presence
	// frame is inflated only as far as its event name (inflate).
	var m *viewer
	for m == nil { // the dead node's viewers all dial at once
		var err error
		m, err = dialSocket(ctx, base, k.tokens[i], k.topic, func(m *viewer) error {
			// Without last_seen_rev the server takes the rev to be
			// last_seen_id: no annotation is edited in this run.
			return m.write(joinFrameSeen(k.topic, last, last))
		})
		if err != nil {
			if ctx.Err() != nil {
				k.fail(fmt.Errorf("viewer %d: rejoin on %s: %w", i, base, err))
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	k.mu.Lock()
	k.socks = append(k.socks, m)
	k.mu.Unlock()
	caughtUp := false
	for {
		op, p, n, err := m.parse(m.pending)
		if err == nil && n == 0 {
			if err = m.fill(); err == nil {
				continue
			}
		}
		if err == nil && op == opClose {
			err = closeErr(p)
		}
		if err != nil { // after caught_up: stop closed the socket
			if !caughtUp {
				k.fail(fmt.Errorf("viewer %d: before caught_up: %w", i, err))
			}
			return
		}
		switch {
		case op == opPing:
			_ = m.writeFrame(opPong, p)
		case op != opText && op != opBinary:
		case caughtUp:
			v.onMessage(p, n, readNow()) // live: its latency counts
		default:
			ids, done, err := catchUpFrame(p)
			if err != nil {
				k.fail(fmt.Errorf("viewer %d: %w", i, err))
				return
			}
			v.mu.Lock()
			v.ids = append(v.ids, ids...)
			v.mu.Unlock()
			if done {
				caughtUp = true
				v.mu.Lock()
				v.readErr = nil // open again: the report counts sockets left closed
				v.mu.Unlock()
				k.mu.Lock()
				k.moved = append(k.moved, time.Since(k.killedAt))
				k.mu.Unlock()
			}
		}
		if n == len(m.pending) && cap(m.pending) > 64<<10 {
			m.pending = nil // do not keep a presence_state's room
		} else {
			m.pending = append(m.pending[:0], m.pending[n:]...)
		}
	}
}

// catchUpFrame returns the annotation ids of one frame of a rejoin's
// catch-up (the join reply or a push), and whether it was caught_up.
func catchUpFrame(msg []byte) (ids []int64, caughtUp bool, err error) {
	event, d := frameEvent(msg)
	switch event {
	case "phx_reply":
		if !isJoinReply(msg) {
			return nil, false, nil
		}
		var p struct {
			Status   string `json:"status"`
			Response struct {
				Annotations []struct {
					ID int64 `json:"id"`
				} `json:"annotations"`
			} `json:"response"`
		}
		if d.Decode(&p) != nil || p.Status != "ok" {
			return nil, false, fmt.Errorf("rejoin refused: %.200s", msg)
		}
		for _, a := range p.Response.Annotations {
			ids = append(ids, a.ID)
		}
	case "new_annotation":
		var a struct {
			ID int64 `json:"id"`
		}
		if d.Decode(&a) == nil {
			ids = append(ids, a.ID)
		}
	case "caught_up":
		return nil, true, nil
	}
	return ids, false, nil
}

// stop closes the moved viewers' sockets, waits for their readers, and
// reports how the move went.
func (k *killer) stop(out io.Writer) error {
	if k == nil {
		return nil
	}
	// Listed once the dead node's viewers have left: every viewer, the
	// posters on live nodes, and the watch itself.
	nodes := len(k.cfg.nodes())
	want := len(k.viewers) + 1
	for p := range k.cfg.posters {
		if p%nodes != k.cfg.killNode {
			want++
		}
	}
	if !k.killedAt.IsZero() {
		if at, ok := k.presence.awaitDrop(want, k.killedAt, k.killedAt.Add(presenceWait)); ok {
			fmt.Fprintf(out, "presence: the killed node's connections left the list %v after the kill (%d listed; bound with the servers' defaults: 20 s)\n",
				at.Sub(k.killedAt).Round(time.Millisecond), want)
		} else {
			k.fail(fmt.Errorf("presence: %d connections listed %v after the kill, want a drop to %d after more", k.presence.count(), presenceWait, want))
		}
	}
	k.presence.close()
	k.mu.Lock()
	for _, m := range k.socks {
		m.close()
	}
	k.mu.Unlock()
	k.wg.Wait()
	slices.Sort(k.moved)
	if n := len(k.moved); n > 0 {
		fmt.Fprintf(out, "node %d (pid %d) killed at %s UTC, after %v of posting: %d of its viewers rejoined on other nodes and caught up; from the kill: median %v, max %v\n",
			k.cfg.killNode, k.cfg.killPID, k.killedAt.UTC().Format("15:04:05.000"), k.killedAt.Sub(k.firstPost).Round(time.Millisecond), n, k.moved[n/2].Round(time.Millisecond), k.moved[n-1].Round(time.Millisecond))
	}
	return errors.Join(k.failed...)
}

// unanswered adds to posted (sorted) the ids that viewers received but
// no poster was answered for: posts in flight on a killed node, which may
// have been written before it died, or whose reply had not come when the
// wait ended. Every viewer must have them too.
func unanswered(posted []int64, viewers []*viewer) []int64 {
	known := make(map[int64]bool, len(posted))
	for _, id := range posted {
		known[id] = true
	}
	for _, v := range viewers {
		v.mu.Lock()
		for _, id := range v.ids {
			if !known[id] {
				known[id] = true
				posted = append(posted, id)
			}
		}
		v.mu.Unlock()
	}
	slices.Sort(posted)
	return posted
}
