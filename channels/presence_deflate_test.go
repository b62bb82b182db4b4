package channels_test

import (
	"testing"
	"time"
)

// The official client over Node's ws, which offers permessage-deflate as
// browsers do, in a room crowded enough that its presence_state and the
// diff of a burst of joins are sent compressed: its Presence lists
// everyone, with their names.
func TestOfficialPresenceCompressed(t *testing.T) {
	requireNode(t)
	cfg := permissive()
	cfg.PresenceWindow = 300 * time.Millisecond // the burst below in one diff
	e := newEnv(t, cfg)
	jsID, jsName, jsTok := e.user("js")
	vid := e.video(jsID)
	topic := "videos:" + itoa(vid)
	want := map[string]string{key(jsID): jsName}
	join := func(n int) {
		for range n {
			id, name, tok := e.user("viewer")
			e.dial(tok).mustJoin(topic, map[string]any{})
			want[key(id)] = name
		}
	}
	everyone := func(m jsMsg) bool {
		if m.Type != "presence" || len(m.List) != len(want) {
			return false
		}
		for _, p := range m.List {
			if p.Count != 1 || want[p.ID] != p.Username {
				return false
			}
		}
		return true
	}

	join(8) // a presence_state past deflateMin
	js := startJS(t, e, jsTok, topic, "params")
	js.expect("join", func(m jsMsg) bool { return m.Type == "joined" })
	js.expect("the 9 viewers, from presence_state", everyone)
	join(8) // a diff past deflateMin
	js.expect("the 17 viewers, after the diff", everyone)
	js.send(map[string]any{"cmd": "exit"})
	js.expect("final", func(m jsMsg) bool { return m.Type == "final" })
}
