package channels_test

import "testing"

// TestOfficialPhoenixClientReactions: the official client reacts, is
// refused an unknown reaction with the reason, and receives the counts of
// its own reactions and of another user's live, coalesced or not; a hide
// reaches it as annotation_hidden.
func TestOfficialPhoenixClientReactions(t *testing.T) {
	requireNode(t)
	m := newModEnv(t, nil)
	id := m.postAs(m.author, m.authorJR, "react to me")
	js := startJS(t, m.env, m.viewerTok, m.topic, "params")
	js.expect("join", func(msg jsMsg) bool { return msg.Type == "joined" })

	js.send(map[string]any{"cmd": "react", "id": id, "reaction": "thumbs_down", "on": true})
	if r := js.expect("the refusal", func(msg jsMsg) bool { return msg.Type == "react_error" }); r.Reason != "reaction must be one of thumbs_up, heart, laugh, surprised" {
		t.Fatalf("unknown reaction: %s", r.raw)
	}
	js.send(map[string]any{"cmd": "react", "id": id, "reaction": "laugh", "on": true})
	js.expect("the reply", func(msg jsMsg) bool { return msg.Type == "reacted" && msg.ID == id })
	from := m.author.count()
	m.ok(m.author, m.authorJR, "react", map[string]any{"id": id, "reaction": "laugh", "on": true})
	js.expect("both laughs", func(msg jsMsg) bool {
		return msg.Type == "reactions" && msg.ID == id && msg.Counts["laugh"] == 2 && len(msg.Counts) == 1
	})
	awaitCounts(m.author, from, id, map[string]int{"laugh": 2})

	m.ok(m.mod, m.mJR, "hide_annotation", map[string]any{"id": id, "reason": "enough"})
	js.expect("the hide", func(msg jsMsg) bool { return msg.Type == "hidden" && msg.ID == id && msg.Rev > 0 })
}
