package channels_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/domain"
)

type reactionsPush struct {
	ID     int64          `json:"id"`
	Counts map[string]int `json:"counts"`
	Rev    int64          `json:"rev"`
}

// awaitCounts waits for a reactions push of id with want.
func awaitCounts(c *client, from int, id int64, want map[string]int) {
	c.t.Helper()
	c.await(from, 30*time.Second, "reactions push", func(f frame) bool {
		var p reactionsPush
		return f.Event == "reactions" && json.Unmarshal(f.Payload, &p) == nil && p.ID == id && sameCounts(p.Counts, want)
	})
}

// joinCounts returns the reaction counts of id in a fresh join reply.
func (m *modEnv) joinCounts(id int64) map[string]int {
	m.t.Helper()
	c := m.dial(m.viewerTok)
	defer c.close()
	_, f := c.join(m.topic, map[string]any{})
	var r struct {
		Annotations []struct {
			ID        int64          `json:"id"`
			Reactions map[string]int `json:"reactions"`
		} `json:"annotations"`
	}
	_, resp := f.reply()
	if err := json.Unmarshal(resp, &r); err != nil {
		m.t.Fatal(err)
	}
	for _, a := range r.Annotations {
		if a.ID == id {
			return a.Reactions
		}
	}
	m.t.Fatalf("join reply %s lacks %d", resp, id)
	return nil
}

// TestReactionsLive: reactions are pushed to every viewer as counts; a
// user's reaction counts once however often it is set; the counts come
// in join replies, after a server crash too.
func TestReactionsLive(t *testing.T) {
	m := newModEnv(t, nil)
	id := m.postAs(m.author, m.authorJR, "a note")
	from := m.author.count()
	m.ok(m.viewer, m.viewerJR, "react", map[string]any{"id": id, "reaction": "heart", "on": true})
	awaitCounts(m.author, from, id, map[string]int{"heart": 1})
	before := len(m.readStream(domain.VideoStream(m.vid)))
	m.ok(m.viewer, m.viewerJR, "react", map[string]any{"id": id, "reaction": "heart", "on": true})
	m.ok(m.viewer, m.viewerJR, "react", map[string]any{"id": id, "reaction": "laugh", "on": false})
	if after := len(m.readStream(domain.VideoStream(m.vid))); after != before {
		t.Fatalf("a reaction set twice, or cleared when not held, wrote %d events", after-before)
	}
	from = m.viewer.count()
	m.ok(m.mod, m.mJR, "react", map[string]any{"id": id, "reaction": "heart", "on": true})
	m.ok(m.author, m.authorJR, "react", map[string]any{"id": id, "reaction": "thumbs_up", "on": true})
	m.ok(m.viewer, m.viewerJR, "react", map[string]any{"id": id, "reaction": "heart", "on": false})
	want := map[string]int{"heart": 1, "thumbs_up": 1}
	awaitCounts(m.viewer, from, id, want)
	if got := m.joinCounts(id); !sameCounts(got, want) {
		t.Fatalf("join reply counts %v, want %v", got, want)
	}
	m.crash()
	m.start()
	if got := m.joinCounts(id); !sameCounts(got, want) {
		t.Fatalf("after a crash, join reply counts %v, want %v", got, want)
	}
}

// TestReactionsHoldBackRev: while a reaction's counts wait for their
// push, a later push carries the revision before that reaction, so a
// client cut before the counts came rejoins below it and is sent them.
func TestReactionsHoldBackRev(t *testing.T) {
	m := newModEnv(t, func(c *channels.Config) { c.ReactionWindow = time.Hour })
	id := m.postAs(m.author, m.authorJR, "a note")
	m.ok(m.viewer, m.viewerJR, "react", map[string]any{"id": id, "reaction": "surprised", "on": true})
	from := m.viewer.count()
	later := m.postAs(m.author, m.authorJR, "a later note")
	f := m.viewer.await(from, 30*time.Second, "new_annotation", func(f frame) bool { return f.Event == "new_annotation" })
	var p struct {
		ID  int64 `json:"id"`
		Rev int64 `json:"rev"`
	}
	if json.Unmarshal(f.Payload, &p) != nil || p.ID != later || p.Rev != id {
		t.Fatalf("push %s: want rev %d, the revision before the reaction", f.Payload, id)
	}
	c := m.dial(m.viewerTok)
	_, r := c.join(m.topic, map[string]any{"last_seen_id": p.ID, "last_seen_rev": p.Rev})
	var resp struct {
		Updated []struct {
			ID        int64          `json:"id"`
			Reactions map[string]int `json:"reactions"`
		} `json:"updated"`
	}
	_, raw := r.reply()
	if json.Unmarshal(raw, &resp) != nil || len(resp.Updated) != 1 || resp.Updated[0].ID != id ||
		!sameCounts(resp.Updated[0].Reactions, map[string]int{"surprised": 1}) {
		t.Fatalf("rejoin reply %s: want %d updated with its counts", raw, id)
	}
}

// joinMine returns the "mine" of item id in a fresh join reply for tok,
// and whether the item carried one.
func (m *modEnv) joinMine(tok string, id int64) ([]string, bool) {
	m.t.Helper()
	c := m.dial(tok)
	defer c.close()
	_, f := c.join(m.topic, map[string]any{})
	var r struct {
		Annotations []struct {
			ID   int64           `json:"id"`
			Mine json.RawMessage `json:"mine"`
		} `json:"annotations"`
	}
	_, resp := f.reply()
	if err := json.Unmarshal(resp, &r); err != nil {
		m.t.Fatal(err)
	}
	for _, a := range r.Annotations {
		if a.ID == id {
			if a.Mine == nil {
				return nil, false
			}
			var mine []string
			if err := json.Unmarshal(a.Mine, &mine); err != nil {
				m.t.Fatalf("mine %s: %v", a.Mine, err)
			}
			return mine, true
		}
	}
	m.t.Fatalf("join reply %s lacks %d", resp, id)
	return nil, false
}

// awaitMine waits on c for a reactions push of id and returns its
// "mine", nil when it has none.
func awaitMine(c *client, from int, id int64, want map[string]int) []string {
	c.t.Helper()
	f := c.await(from, 30*time.Second, "reactions push", func(f frame) bool {
		var p reactionsPush
		return f.Event == "reactions" && json.Unmarshal(f.Payload, &p) == nil && p.ID == id && sameCounts(p.Counts, want)
	})
	var p struct {
		Mine []string `json:"mine"`
	}
	if err := json.Unmarshal(f.Payload, &p); err != nil {
		c.t.Fatal(err)
	}
	return p.Mine
}

// TestReactionsMine: a join reply tells the joining user which reactions
// they hold on each item ("mine"), others' joins carry none, and after a
// change the reacting user's connections, another tab's too, are pushed
// their reactions with the counts while everyone else gets the counts
// alone; a crash changes none of it.
func TestReactionsMine(t *testing.T) {
	m := newModEnv(t, nil)
	id := m.postAs(m.author, m.authorJR, "a note")
	other := m.postAs(m.author, m.authorJR, "another note")
	tab := m.dial(m.viewerTok)
	tabJR := tab.mustJoin(m.topic, map[string]any{})
	fromAuthor, fromTab := m.author.count(), tab.count()
	m.ok(m.viewer, m.viewerJR, "react", map[string]any{"id": id, "reaction": "laugh", "on": true})
	m.ok(m.viewer, m.viewerJR, "react", map[string]any{"id": id, "reaction": "heart", "on": true})
	want := map[string]int{"heart": 1, "laugh": 1}
	if mine := awaitMine(tab, fromTab, id, want); !slices.Equal(mine, []string{"heart", "laugh"}) {
		t.Fatalf("the reacting user's other tab was pushed mine %q, want [heart laugh]", mine)
	}
	if mine := awaitMine(m.author, fromAuthor, id, want); mine != nil {
		t.Fatalf("another user was pushed mine %q", mine)
	}
	check := func(when string) {
		t.Helper()
		if mine, ok := m.joinMine(m.viewerTok, id); !ok || !slices.Equal(mine, []string{"heart", "laugh"}) {
			t.Fatalf("%s: the reacting user's join has mine %q (%v), want [heart laugh]", when, mine, ok)
		}
		if mine, ok := m.joinMine(m.viewerTok, other); ok {
			t.Fatalf("%s: an item without the user's reactions has mine %q", when, mine)
		}
		if mine, ok := m.joinMine(m.authorTok, id); ok {
			t.Fatalf("%s: another user's join has mine %q", when, mine)
		}
	}
	check("live")
	fromViewer := m.viewer.count()
	m.ok(tab, tabJR, "react", map[string]any{"id": id, "reaction": "heart", "on": false})
	if mine := awaitMine(m.viewer, fromViewer, id, map[string]int{"laugh": 1}); !slices.Equal(mine, []string{"laugh"}) {
		t.Fatalf("after a clear from another tab, mine %q, want [laugh]", mine)
	}
	m.ok(m.viewer, m.viewerJR, "react", map[string]any{"id": id, "reaction": "heart", "on": true})
	m.crash()
	m.start()
	check("after a crash")
}

// TestReactionsWindow: a client that joins with reactions_window gets a
// window's counts as one reactions_window push {"items", "rev"}, with
// "mine" on the items its user changed, and never a per-item reactions
// push; a client that did not ask keeps the per-item pushes.
func TestReactionsWindow(t *testing.T) {
	m := newModEnv(t, nil)
	id1 := m.postAs(m.author, m.authorJR, "first")
	id2 := m.postAs(m.author, m.authorJR, "second")

	bad := m.dial(m.viewerTok)
	defer bad.close()
	if _, f := bad.join(m.topic, map[string]any{"reactions_window": "yes"}); f.reason() != "reactions_window must be true or false" {
		t.Fatalf("reactions_window \"yes\": %s", f.Payload)
	}

	own := m.dial(m.viewerTok) // another tab of the user who reacts
	defer own.close()
	other := m.dial(m.authorTok)
	defer other.close()
	own.mustJoin(m.topic, map[string]any{"reactions_window": true})
	other.mustJoin(m.topic, map[string]any{"reactions_window": true})
	fromOwn, fromOther, fromAuthor := own.count(), other.count(), m.author.count()

	m.ok(m.viewer, m.viewerJR, "react", map[string]any{"id": id1, "reaction": "heart", "on": true})
	m.ok(m.viewer, m.viewerJR, "react", map[string]any{"id": id2, "reaction": "thumbs_up", "on": true})
	want := map[int64]map[string]int{id1: {"heart": 1}, id2: {"thumbs_up": 1}}
	wantMine := map[int64]string{id1: "heart", id2: "thumbs_up"}

	type item struct {
		ID     int64          `json:"id"`
		Counts map[string]int `json:"counts"`
		Mine   []string       `json:"mine"`
	}
	// follow reads c's reactions_window pushes until the counts of both
	// items are the wanted ones, and checks what each item says.
	follow := func(c *client, from int, who string, mine bool) {
		t.Helper()
		last := map[int64]map[string]int{}
		c.await(from, 30*time.Second, who+": both items' counts", func(f frame) bool {
			if f.Event != "reactions_window" {
				return false
			}
			var p struct {
				Items []item `json:"items"`
				Rev   int64  `json:"rev"`
			}
			if err := json.Unmarshal(f.Payload, &p); err != nil || len(p.Items) == 0 || p.Rev == 0 {
				t.Fatalf("%s: reactions_window %s", who, f.Payload)
			}
			for _, it := range p.Items {
				if mine != slices.Contains(it.Mine, wantMine[it.ID]) {
					t.Fatalf("%s: item %d says mine %v", who, it.ID, it.Mine)
				}
				last[it.ID] = it.Counts
			}
			return sameCounts(last[id1], want[id1]) && sameCounts(last[id2], want[id2])
		})
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, f := range c.frames[from:] {
			if f.Event == "reactions" {
				t.Fatalf("%s asked for windows and was pushed reactions %s", who, f.Payload)
			}
		}
	}
	follow(own, fromOwn, "the reacting user's other tab", true)
	follow(other, fromOther, "another user", false)

	awaitCounts(m.author, fromAuthor, id1, want[id1])
	awaitCounts(m.author, fromAuthor, id2, want[id2])
	m.author.mu.Lock()
	defer m.author.mu.Unlock()
	for _, f := range m.author.frames[fromAuthor:] {
		if f.Event == "reactions_window" {
			t.Fatalf("a client that did not ask was pushed reactions_window %s", f.Payload)
		}
	}
}
