package channels_test

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

type pmeta struct {
	PhxRef   string `json:"phx_ref"`
	OnlineAt string `json:"online_at"`
	Device   string `json:"device"`
	Username string `json:"username"`
}

type pstate map[string]struct {
	Metas []pmeta `json:"metas"`
}

// presenceView replays what the phoenix.js Presence would hold for topic:
// presence_state replaces the state, diffs before it (of the current join)
// wait for it, diffs after it apply (metas merged by phx_ref).
type presenceView map[string]map[string]pmeta // user key -> phx_ref -> meta

func presenceOf(frames []frame, topic string) (presenceView, int) {
	view := presenceView{}
	cur, synced, diffs := "", false, 0
	var pending []json.RawMessage
	apply := func(raw json.RawMessage) {
		var d struct{ Joins, Leaves pstate }
		_ = json.Unmarshal(raw, &d)
		for key, p := range d.Joins {
			if view[key] == nil {
				view[key] = map[string]pmeta{}
			}
			for _, m := range p.Metas {
				view[key][m.PhxRef] = m
			}
		}
		for key, p := range d.Leaves {
			for _, m := range p.Metas {
				delete(view[key], m.PhxRef)
			}
			if len(view[key]) == 0 {
				delete(view, key)
			}
		}
	}
	for _, f := range frames {
		if f.Topic != topic {
			continue
		}
		if f.local {
			cur, synced, pending = f.localRef, false, nil
			continue
		}
		if f.JoinRef != nil && *f.JoinRef != cur {
			continue
		}
		switch f.Event {
		case "presence_state":
			var s pstate
			_ = json.Unmarshal(f.Payload, &s)
			view = presenceView{}
			for key, p := range s {
				view[key] = map[string]pmeta{}
				for _, m := range p.Metas {
					view[key][m.PhxRef] = m
				}
			}
			synced = true
			for _, d := range pending {
				apply(d)
			}
			pending = nil
		case "presence_diff":
			diffs++
			if synced {
				apply(f.Payload)
			} else {
				pending = append(pending, f.Payload)
			}
		}
	}
	return view, diffs
}

func (c *client) presence(topic string) (presenceView, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return presenceOf(c.frames, topic)
}

// counts summarizes a view as user key -> number of connections.
func (v presenceView) counts() map[string]int {
	out := map[string]int{}
	for k, metas := range v {
		out[k] = len(metas)
	}
	return out
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, n := range a {
		if b[k] != n {
			return false
		}
	}
	return true
}

func (c *client) awaitPresence(t testing.TB, topic string, want map[string]int) presenceView {
	t.Helper()
	var v presenceView
	ok := false
	deadline := time.Now().Add(10 * time.Second)
	for !ok && time.Now().Before(deadline) {
		v, _ = c.presence(topic)
		if ok = sameCounts(v.counts(), want); !ok {
			c.tryAwait(c.count(), 50*time.Millisecond, func(frame) bool { return true })
		}
	}
	if !ok {
		t.Fatalf("presence %v, want %v", v.counts(), want)
	}
	return v
}

func key(id int64) string { return strconv.FormatInt(id, 10) }

func TestPresenceJoinsLeavesAndConnections(t *testing.T) {
	e := newEnv(t, permissive())
	aid, aname, atok := e.user("alice")
	bid, _, btok := e.user("bob")
	vid := e.video(aid)
	topic := "videos:" + itoa(vid)

	a := e.dial(atok)
	a.mustJoin(topic, map[string]any{"device": "tablet"})
	a.awaitPresence(t, topic, map[string]int{key(aid): 1})
	b := e.dial(btok)
	b.mustJoin(topic, map[string]any{})
	both := map[string]int{key(aid): 1, key(bid): 1}
	v := a.awaitPresence(t, topic, both)
	b.awaitPresence(t, topic, both)
	for _, m := range v[key(aid)] {
		if m.Username != aname || m.Device != "tablet" || m.PhxRef == "" {
			t.Errorf("alice's meta = %+v", m)
		}
		if _, err := strconv.ParseInt(m.OnlineAt, 10, 64); err != nil {
			t.Errorf("online_at %q is not unix seconds", m.OnlineAt)
		}
	}
	for _, m := range v[key(bid)] {
		if m.Device != "app" { // the Go client's user agent
			t.Errorf("bob's device = %q, want app", m.Device)
		}
	}

	// Alice opens a second tab: one key, two metas.
	a2 := e.dial(atok)
	a2j := a2.mustJoin(topic, map[string]any{})
	two := map[string]int{key(aid): 2, key(bid): 1}
	b.awaitPresence(t, topic, two)
	a2.awaitPresence(t, topic, two)
	// She closes it with phx_leave, then Bob's socket drops.
	a2.request(a2j, topic, "phx_leave", map[string]any{})
	b.awaitPresence(t, topic, both)
	b.close()
	a.awaitPresence(t, topic, map[string]int{key(aid): 1})

	// The log tells the same story.
	reasons := map[string]int{}
	joined := 0
	for _, ev := range e.readStream(domain.ViewersStream(vid)) {
		switch ev.Type {
		case domain.TypeViewerJoined:
			var j domain.ViewerJoined
			_ = json.Unmarshal(ev.Data, &j)
			if j.Node != e.node.ID() || j.ConnectionID == "" || j.At.IsZero() {
				t.Errorf("ViewerJoined %+v", j)
			}
			joined++
		case domain.TypeViewerLeft:
			var l domain.ViewerLeft
			_ = json.Unmarshal(ev.Data, &l)
			reasons[l.Reason]++
		}
	}
	if joined != 3 || reasons["left"] != 1 || reasons["disconnected"] != 1 {
		t.Fatalf("viewers stream: %d joined, leaves %v; want 3 joined, one left, one disconnected", joined, reasons)
	}
}

func TestPresenceGhostClosedAfterCrash(t *testing.T) {
	e := newEnv(t, permissive())
	uid, _, tok := e.user("ghost")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	c := e.dial(tok)
	c.mustJoin(topic, map[string]any{})
	c.awaitPresence(t, topic, map[string]int{key(uid): 1})

	e.crash() // nothing gets to record the viewer leaving
	open := openViewings(t, e, vid)
	if len(open) != 1 {
		t.Fatalf("after the crash %d viewings are open, want the ghost", len(open))
	}
	e.start()
	if got := openViewings(t, e, vid); len(got) != 0 {
		t.Fatalf("after restart, open viewings %v", got)
	}
	var left domain.ViewerLeft
	evs := e.readStream(domain.ViewersStream(vid))
	_ = json.Unmarshal(evs[len(evs)-1].Data, &left)
	if left.Reason != "node_restarted" || left.ConnectionID != open[0] {
		t.Fatalf("closing event %+v, want node_restarted for %s", left, open[0])
	}
	// A viewer now sees itself only.
	_, _, tok2 := e.user("after")
	c2 := e.dial(tok2)
	c2.mustJoin(topic, map[string]any{})
	uid2, _, _ := e.tokens.Verify(tok2)
	c2.awaitPresence(t, topic, map[string]int{key(uid2): 1})
}

// openViewings lists the connection ids joined and not left, from the log.
func openViewings(t testing.TB, e *env, vid int64) []string {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	st := e.store
	if !e.running { // read the closed log
		s, err := openStore(e.dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		st = s
	}
	evs, err := st.ReadStream(ctx, domain.ViewersStream(vid), eventstore.Forwards, 0, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	open := map[string]bool{}
	for _, ev := range evs {
		var v struct {
			ConnectionID string `json:"connection_id"`
		}
		_ = json.Unmarshal(ev.Data, &v)
		open[v.ConnectionID] = ev.Type == domain.TypeViewerJoined
	}
	var out []string
	for ref, isOpen := range open {
		if isOpen {
			out = append(out, ref)
		}
	}
	sort.Strings(out)
	return out
}

func TestSweepSharedStore(t *testing.T) {
	e := newEnv(t, permissive())
	vid := e.video(1)
	now := time.Now()
	joined := func(node, ref string) {
		e.appendEvent(domain.ViewersStream(vid), domain.TypeViewerJoined, domain.ViewerJoined{UserID: 1, Username: "u", ConnectionID: ref, Node: node, At: now})
	}
	e.appendEvent(domain.NodesStream, domain.TypeNodeStarted, domain.NodeStarted{Node: "peer/1", At: now})
	e.appendEvent(domain.NodesStream, domain.TypeNodeStarted, domain.NodeStarted{Node: "stopped/1", At: now})
	e.appendEvent(domain.NodesStream, domain.TypeNodeStopped, domain.NodeStopped{Node: "stopped/1", At: now})
	joined("peer/1", "alive-elsewhere")
	joined("stopped/1", "of-a-stopped-node")
	joined("me/0", "of-my-earlier-run")
	joined("never-started/1", "of-an-unknown-node")

	// A node sharing the store (not exclusive) sweeps: the peer is alive.
	n, err := channels.StartNode(t.Context(), e.store, channels.NodeConfig{Name: "me", HeartbeatInterval: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := openViewings(t, e, vid); len(got) != 1 || got[0] != "alive-elsewhere" {
		t.Fatalf("open after sweep: %v, want only the live peer's", got)
	}
	_ = n.Stop(t.Context())
	// Much later, the peer has been silent for more than three intervals.
	later, err := channels.StartNode(t.Context(), e.store, channels.NodeConfig{
		Name: "me", HeartbeatInterval: time.Minute, Now: func() time.Time { return now.Add(4 * time.Minute) },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := openViewings(t, e, vid); len(got) != 0 {
		t.Fatalf("open after the peer went silent: %v", got)
	}
	_ = later.Stop(t.Context())
}

func TestPresenceDiffsCoalesced(t *testing.T) {
	e := newEnv(t, permissive())
	owner, _, _ := e.user("owner")
	vid := e.video(owner)
	topic := "videos:" + itoa(vid)
	const n = 24
	clients := make([]*client, n)
	want := map[string]int{}
	toks := make([]string, n)
	for i := range n {
		uid, _, tok := e.user("crowd")
		toks[i] = tok
		want[key(uid)] = 1
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i] = e.dial(toks[i])
			clients[i].mustJoin(topic, map[string]any{})
		}()
	}
	wg.Wait()
	total, frames := 0, 0
	for _, c := range clients {
		c.awaitPresence(t, topic, want)
	}
	time.Sleep(100 * time.Millisecond) // let any last diff arrive
	for _, c := range clients {
		_, diffs := c.presence(topic)
		total += diffs
		c.mu.Lock()
		frames += len(c.frames)
		c.mu.Unlock()
	}
	t.Logf("%d viewers arriving together: %d presence_diff frames in all (uncoalesced: about %d)", n, total, n*(n+1)/2)
	if total > n*n/4 {
		t.Fatalf("%d presence_diff frames for %d arrivals: not coalesced", total, n)
	}
}
