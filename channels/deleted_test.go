package channels_test

import (
	"testing"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// TestDeletedVideo: joining a deleted video's channel is refused with a
// reason that says so, and a viewer still on it can no longer post.
func TestDeletedVideo(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("del")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	c := e.dial(tok)
	jr := c.mustJoin(topic, map[string]any{})
	if err := e.catalog.Delete(t.Context(), vid, uid, domain.Roles{}, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if f := c.request(jr, topic, "new_annotation", map[string]any{"body": "still here?", "at": 1}); f.reason() != "this video was deleted" {
		t.Errorf("post to a deleted video: %s", f.Payload)
	}
	other := e.dial(tok)
	if _, f := other.join(topic, map[string]any{}); f.reason() != "this video was deleted" {
		t.Errorf("join a deleted video: %s", f.Payload)
	}
}
