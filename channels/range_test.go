package channels_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// TestRangeDuration: new_annotation's optional duration is validated
// with a clear reason, bounded by the video's known duration, written to
// the log only when given, and carried by the push and by every join
// reply, paged catch-up included.
func TestRangeDuration(t *testing.T) {
	e := newEnv(t, pagedConfig(5))
	uid, name, tok := e.user("ranger")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	c := e.dial(tok)
	jr := c.mustJoin(topic, map[string]any{})
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	if st, _ := c.request(jr, topic, "video_duration", map[string]any{"duration_ms": 60_000}).reply(); st != "ok" {
		t.Fatal("duration report refused")
	}
	before := len(e.readStream(domain.VideoStream(vid)))
	for _, bad := range []any{0, -1, 1.5, "2000", raw("2e3"), true, domain.MaxDurationMS + 1} {
		r := c.request(jr, topic, "new_annotation", map[string]any{"body": "bad range", "at": 1000, "duration": bad})
		if st, _ := r.reply(); st != "error" || !strings.Contains(r.reason(), "duration must be an integer from 1 to 86400000") {
			t.Fatalf("duration %v: %s", bad, r.Payload)
		}
	}
	r := c.request(jr, topic, "new_annotation", map[string]any{"body": "runs off the end", "at": 50_000, "duration": 10_001})
	if st, _ := r.reply(); st != "error" || r.reason() != "duration must end by 60000: the video lasts 1:00" {
		t.Fatalf("a range past the video's end: %s", r.Payload)
	}
	if after := len(e.readStream(domain.VideoStream(vid))); after != before {
		t.Fatalf("refused posts wrote %d events", after-before)
	}

	from := c.count()
	st, resp := c.request(jr, topic, "new_annotation", map[string]any{"body": "the chorus", "at": 50_000, "duration": 10_000}).reply()
	if st != "ok" {
		t.Fatalf("a range to the video's last moment was refused: %s", resp)
	}
	push := c.await(from, 30*time.Second, "the range's push", func(f frame) bool { return f.Event == "new_annotation" && f.Topic == topic })
	var pa struct {
		At       int64 `json:"at"`
		Duration int64 `json:"duration"`
	}
	if err := json.Unmarshal(push.Payload, &pa); err != nil || pa.At != 50_000 || pa.Duration != 10_000 {
		t.Fatalf("push %s: want at 50000 and duration 10000", push.Payload)
	}
	if st, _ := c.request(jr, topic, "new_annotation", map[string]any{"body": "an instant", "at": 2000, "duration": nil}).reply(); st != "ok" {
		t.Fatal("a null duration (an instant) was refused")
	}
	evs := e.readStream(domain.VideoStream(vid))
	if got := string(evs[len(evs)-1].Data); strings.Contains(got, "duration") {
		t.Fatalf("an instant is written %s: no duration field", got)
	}
	if got := string(evs[len(evs)-2].Data); !strings.Contains(got, `"duration":10000`) {
		t.Fatalf("a range is written %s", got)
	}

	// A long history: the range is sent in a later page of the catch-up.
	e.seed(vid, uid, name, 12)
	b, _ := json.Marshal(domain.AnnotationPosted{UserID: uid, Username: name, Body: "late range", At: 3000, Duration: 1500})
	if _, err := e.store.Append(t.Context(), domain.VideoStream(vid), eventstore.Any, eventstore.EventData{Type: domain.TypeAnnotationPosted, Data: b}); err != nil {
		t.Fatal(err)
	}
	c2 := e.dial(tok)
	_, reply := c2.join(topic, map[string]any{})
	c2.caughtUp(topic)
	durations := map[string]int64{}
	collect := func(list []json.RawMessage) {
		for _, a := range list {
			var x struct {
				Body     string `json:"body"`
				Duration int64  `json:"duration"`
			}
			_ = json.Unmarshal(a, &x)
			durations[x.Body] = x.Duration
		}
	}
	_, jresp := reply.reply()
	var jrep struct {
		Annotations []json.RawMessage `json:"annotations"`
	}
	_ = json.Unmarshal(jresp, &jrep)
	collect(jrep.Annotations)
	for _, f := range received(c2, topic) {
		if f.Event == "new_annotation" {
			collect([]json.RawMessage{f.Payload})
		}
	}
	if durations["the chorus"] != 10_000 || durations["late range"] != 1500 || durations["an instant"] != 0 {
		t.Fatalf("catch-up durations %v: want the chorus 10000, late range 1500, an instant 0", durations)
	}
}
