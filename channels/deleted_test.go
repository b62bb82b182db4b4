package channels_test

import (
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// TestDeletedVideo: a viewer on a video's channel is told when the video
// is deleted (video_deleted, then phx_close, so the client does not
// rejoin); the topic then takes no pushes, and joining it is refused
// with a reason that says so.
func TestDeletedVideo(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("del")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	c := e.dial(tok)
	jr := c.mustJoin(topic, map[string]any{})
	from := c.count()
	if err := e.catalog.Delete(t.Context(), vid, uid, domain.Roles{}, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	told := c.await(from, 10*time.Second, "video_deleted", func(f frame) bool { return f.Topic == topic && f.Event == "video_deleted" })
	if string(told.Payload) != `{"id":`+itoa(vid)+`}` {
		t.Errorf("video_deleted payload %s", told.Payload)
	}
	closed := c.await(from, 10*time.Second, "phx_close", func(f frame) bool { return f.Topic == topic && f.Event == "phx_close" })
	if closed.joinRef() != jr {
		t.Errorf("phx_close for join %q, want %q", closed.joinRef(), jr)
	}
	if f := c.request(jr, topic, "new_annotation", map[string]any{"body": "still here?", "at": 1}); f.reason() != "unmatched topic" {
		t.Errorf("post on the closed channel: %s", f.Payload)
	}
	other := e.dial(tok)
	if _, f := other.join(topic, map[string]any{}); f.reason() != "this video was deleted" {
		t.Errorf("join a deleted video: %s", f.Payload)
	}
}
