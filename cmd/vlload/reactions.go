package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Reactions during the delivery run (--reactions-rate): a few reactor
// connections, each a user of its own, set and clear reactions on the
// newest annotation they have received, at the given rate in all, for as
// long as the posts last. Every reaction changes a count, so each is an
// event in the log; the server pushes the counts coalesced per window, and
// the viewers count the reactions frames they get.

// Viewers join with reactions_window, as the watch page does: a server
// that knows it sends a window's counts in one reactions_window push, one
// that does not sends a reactions push per item; both are counted.
var reactionsPush, reactionsWindowPush = []byte(`"reactions",{`), []byte(`"reactions_window",{`)

// reactionNames are the server's fixed set.
var reactionNames = [...]string{"thumbs_up", "heart", "laugh", "surprised"}

// reactor is a connection that reacts, with what it holds.
type reactor struct {
	v    *viewer
	held map[int64]uint8 // annotation id -> bits of reactionNames held
}

// startReactors connects n reactors with tokens and runs them until the
// posts are due to end (posts/rate after start); the returned wait
// returns once they have stopped.
func startReactors(ctx context.Context, cfg config, tokens []string, topic string, start time.Time) (rs []*reactor, wait func(), err error) {
	n := min(cfg.reactors, len(tokens))
	for i := range n {
		v, err := connect(ctx, cfg.node(i), tokens[len(tokens)-1-i], topic)
		if err != nil {
			for _, r := range rs {
				r.v.close()
			}
			return nil, nil, fmt.Errorf("reactor: %w", err)
		}
		go v.read()
		rs = append(rs, &reactor{v: v, held: map[int64]uint8{}})
	}
	end := start.Add(time.Duration(float64(cfg.posts) / cfg.rate * float64(time.Second)))
	total := int(cfg.reactRate * end.Sub(start).Seconds())
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() {
			for k := i; k < total; k += len(rs) {
				at := start.Add(time.Duration(float64(k) / cfg.reactRate * float64(time.Second)))
				select {
				case <-time.After(time.Until(at)):
				case <-ctx.Done():
					return
				}
				r.react(k, topic)
			}
		})
	}
	return rs, wg.Wait, nil
}

// react flips reaction k%4 of the newest annotation r has received.
func (r *reactor) react(k int, topic string) {
	r.v.mu.Lock()
	var id int64
	if len(r.v.ids) > 0 {
		id = r.v.ids[len(r.v.ids)-1]
	}
	r.v.mu.Unlock()
	if id == 0 {
		return // nothing to react to yet
	}
	i := k % len(reactionNames)
	on := r.held[id]&(1<<i) == 0
	r.held[id] ^= 1 << i
	r.v.mu.Lock()
	r.v.reactSent++
	r.v.mu.Unlock()
	_ = r.v.write(`["1","r` + strconv.Itoa(k) + `",` + strconv.Quote(topic) + `,"react",{"id":` +
		strconv.FormatInt(id, 10) + `,"reaction":"` + reactionNames[i] + `","on":` + strconv.FormatBool(on) + `}]`)
}

// onReactionsFrame counts a reactions push, or a reply to a react; it
// reports whether buf was either.
func (v *viewer) onReactionsFrame(head, buf []byte) bool {
	if bytes.Contains(head, reactionsPush) || bytes.Contains(head, reactionsWindowPush) {
		v.mu.Lock()
		v.reactFrames++
		v.mu.Unlock()
		return true
	}
	if bytes.HasPrefix(buf, []byte(`["1","r`)) && bytes.Contains(head, []byte(`"phx_reply"`)) {
		v.mu.Lock()
		if bytes.Contains(buf, []byte(`"status":"ok"`)) {
			v.reactOK++
		} else {
			v.reactErr++
		}
		v.mu.Unlock()
		return true
	}
	return false
}

// reportReactions prints what the reactors sent and the viewers got.
func reportReactions(out io.Writer, rs []*reactor, viewers []*viewer, span time.Duration) {
	sent, ok, refused := 0, 0, 0
	for _, r := range rs {
		r.v.mu.Lock()
		sent, ok, refused = sent+r.v.reactSent, ok+r.v.reactOK, refused+r.v.reactErr
		r.v.mu.Unlock()
	}
	frames := make([]int64, 0, len(viewers))
	var all int64
	for _, v := range viewers {
		v.mu.Lock()
		frames = append(frames, int64(v.reactFrames))
		all += int64(v.reactFrames)
		v.mu.Unlock()
	}
	slices.Sort(frames)
	fmt.Fprintf(out, "reactions: %d sent in %v (%.0f/s), %d ok, %d refused, %d unanswered; reactions pushes per viewer: median %d, max %d (%d in all)\n",
		sent, span.Round(time.Millisecond), float64(sent)/span.Seconds(), ok, refused, sent-ok-refused,
		frames[len(frames)/2], frames[len(frames)-1], all)
}
