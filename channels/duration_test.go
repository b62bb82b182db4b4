package channels_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/videologue/videologue/domain"
)

// TestVideoDurationBoundsAt: once a viewer's player has reported the
// video's duration, an annotation pinned beyond it is refused with a
// clear reason and writes nothing; only reports that raise the duration
// are recorded, and bad ones are refused.
func TestVideoDurationBoundsAt(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("dur")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	c := e.dial(tok)
	jr := c.mustJoin(topic, map[string]any{})
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }

	// Unknown duration: 99 minutes is accepted, as ever.
	if st, _ := c.request(jr, topic, "new_annotation", map[string]any{"body": "early bird", "at": 99 * 60 * 1000}).reply(); st != "ok" {
		t.Fatal("a post on a video of unknown duration was refused")
	}
	for _, bad := range []any{0, -1, 1.5, "20000", raw("2e4"), domain.MaxDurationMS + 1, nil, true} {
		r := c.request(jr, topic, "video_duration", map[string]any{"duration_ms": bad})
		if st, _ := r.reply(); st != "error" || !strings.Contains(r.reason(), "duration_ms must be an integer from 1 to 86400000") {
			t.Fatalf("duration_ms %v: %s", bad, r.Payload)
		}
	}
	for _, ms := range []int64{19_200, 20_000, 15_000} {
		if st, _ := c.request(jr, topic, "video_duration", map[string]any{"duration_ms": ms}).reply(); st != "ok" {
			t.Fatalf("report %d refused", ms)
		}
	}
	if n := len(e.readStream(domain.DurationsStream)); n != 1 {
		t.Fatalf("%d duration events, want 1: only a report that raises the duration is recorded", n)
	}
	before := len(e.readStream(domain.VideoStream(vid)))
	r := c.request(jr, topic, "new_annotation", map[string]any{"body": "too late", "at": 99 * 60 * 1000})
	if st, _ := r.reply(); st != "error" || r.reason() != "at must be at most 20000: the video lasts 0:20" {
		t.Fatalf("post at 99 minutes on a 20-second video: %s", r.Payload)
	}
	if after := len(e.readStream(domain.VideoStream(vid))); after != before {
		t.Fatalf("a refused post wrote %d events", after-before)
	}
	if st, _ := c.request(jr, topic, "new_annotation", map[string]any{"body": "the end", "at": 20_000}).reply(); st != "ok" {
		t.Fatal("a post at the last moment was refused")
	}
	// Another viewer's report that the video is longer raises the bound.
	_, _, tok2 := e.user("dur2")
	c2 := e.dial(tok2)
	jr2 := c2.mustJoin(topic, map[string]any{})
	if st, _ := c2.request(jr2, topic, "video_duration", map[string]any{"duration_ms": 60_000}).reply(); st != "ok" {
		t.Fatal("a longer report was refused")
	}
	if st, _ := c.request(jr, topic, "new_annotation", map[string]any{"body": "later on", "at": 45_000}).reply(); st != "ok" {
		t.Fatal("a post within the raised duration was refused")
	}
}
