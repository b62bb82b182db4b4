package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
)

// presenceEvent starts the event name of presence_state and presence_diff
// frames.
var presenceEvent = []byte(`,"presence_`)

// presenceCount is what one viewer received of presence: frames, their
// bytes of JSON, and the bytes they took on the wire (fewer when
// compressed). Guarded by the viewer's mu.
type presenceCount struct {
	frames, bytes, wire int64
}

// isPresence tells whether the frame whose first bytes are head is a
// presence_state or presence_diff.
func isPresence(head []byte) bool { return bytes.Contains(head, presenceEvent) }

// countPresence records a presence frame of n bytes of JSON, wire bytes
// as sent.
func (v *viewer) countPresence(n, wire int) {
	v.mu.Lock()
	v.presence.frames++
	v.presence.bytes += int64(n)
	v.presence.wire += int64(wire)
	v.mu.Unlock()
}

// reportPresence prints the presence frames the viewers received since
// they joined: what a room's joins cost each of its viewers.
func reportPresence(out io.Writer, viewers []*viewer) {
	var frames []int64
	var total, bytes, wire int64
	for _, v := range viewers {
		v.mu.Lock()
		frames = append(frames, v.presence.frames)
		total += v.presence.frames
		bytes += v.presence.bytes
		wire += v.presence.wire
		v.mu.Unlock()
	}
	if len(frames) == 0 {
		return
	}
	slices.Sort(frames)
	fmt.Fprintf(out, "presence frames received (presence_state and presence_diff, the joins included): %d in all, %.1f MiB of JSON, %.1f MiB on the wire; per viewer median %d, max %d\n",
		total, float64(bytes)/(1<<20), float64(wire)/(1<<20), frames[len(frames)/2], frames[len(frames)-1])
}
