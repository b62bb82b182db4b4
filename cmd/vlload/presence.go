package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"time"
)

// presenceEvent starts the event name of presence_state and presence_diff
// frames.
var presenceEvent = []byte(`,"presence_`)

// presenceCount is what one viewer received of presence: frames and the
// bytes they took on the wire (compressed when large). Their bytes of JSON
// are not known: a compressed presence frame is inflated only as far as
// its event name (inflate). Guarded by the viewer's mu.
type presenceCount struct {
	frames, wire int64
}

// isPresence tells whether the frame whose first bytes are head is a
// presence_state or presence_diff.
func isPresence(head []byte) bool { return bytes.Contains(head, presenceEvent) }

// countPresence records a presence frame of wire bytes as sent.
func (v *viewer) countPresence(wire int) {
	v.mu.Lock()
	v.presence.frames++
	v.presence.wire += int64(wire)
	v.mu.Unlock()
}

// reportPresence prints the presence frames the viewers received since
// they joined: what a room's joins cost each of its viewers.
func reportPresence(out io.Writer, viewers []*viewer) {
	var frames []int64
	var total, wire int64
	for _, v := range viewers {
		v.mu.Lock()
		frames = append(frames, v.presence.frames)
		total += v.presence.frames
		wire += v.presence.wire
		v.mu.Unlock()
	}
	if len(frames) == 0 {
		return
	}
	slices.Sort(frames)
	fmt.Fprintf(out, "presence frames received (presence_state and presence_diff, the joins included): %d in all, %.1f MiB on the wire; per viewer median %d, max %d\n",
		total, float64(wire)/(1<<20), frames[len(frames)/2], frames[len(frames)-1])
}

// settle waits until no viewer has received a presence frame for quiet,
// or until limit has passed, and returns how long it waited and whether the
// presence went quiet.
func settle(ctx context.Context, viewers []*viewer, quiet, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	last, lastChange := int64(-1), start
	for {
		var n int64
		for _, v := range viewers {
			v.mu.Lock()
			n += v.presence.frames
			v.mu.Unlock()
		}
		now := time.Now()
		if n != last {
			last, lastChange = n, now
		}
		switch {
		case now.Sub(lastChange) >= quiet:
			return lastChange.Sub(start), true
		case now.Sub(start) >= limit || ctx.Err() != nil:
			return now.Sub(start), false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
