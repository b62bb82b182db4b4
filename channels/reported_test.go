package channels_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// caughtUpReported joins with tok and returns the "reported" of its
// caught_up, and whether it had one.
func (m *modEnv) caughtUpReported(tok string) ([]int64, bool) {
	m.t.Helper()
	c := m.dial(tok)
	defer c.close()
	from := c.count()
	c.mustJoin(m.topic, map[string]any{})
	f := c.await(from, 30*time.Second, "caught_up", func(f frame) bool { return f.Event == "caught_up" })
	var p struct {
		Reported []int64 `json:"reported"`
	}
	if err := json.Unmarshal(f.Payload, &p); err != nil {
		m.t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(f.Payload, &raw)
	_, ok := raw["reported"]
	return p.Reported, ok
}

// TestModeratorsSeeOpenReports: a moderator's caught_up names the items
// with open reports, and a report or a dismissal is pushed to moderators
// alone as reports {"id", "open"}; a viewer's caught_up has none.
func TestModeratorsSeeOpenReports(t *testing.T) {
	m := newModEnv(t, nil)
	id := m.postAs(m.author, m.authorJR, "a note")
	if got, ok := m.caughtUpReported(m.modTok); ok {
		t.Fatalf("before any report, a moderator's caught_up has reported %v", got)
	}
	fromMod, fromViewer := m.mod.count(), m.viewer.count()
	m.ok(m.viewer, m.viewerJR, "report_annotation", map[string]any{"id": id, "reason": "rude"})
	open := func(want int) func(frame) bool {
		return func(f frame) bool {
			var p struct {
				ID   int64 `json:"id"`
				Open *int  `json:"open"`
			}
			return f.Event == "reports" && json.Unmarshal(f.Payload, &p) == nil && p.ID == id && p.Open != nil && *p.Open == want
		}
	}
	m.mod.await(fromMod, 30*time.Second, "reports open 1", open(1))
	if got, ok := m.caughtUpReported(m.modTok); !ok || !slices.Equal(got, []int64{id}) {
		t.Fatalf("a moderator's caught_up has reported %v (%v), want [%d]", got, ok, id)
	}
	if got, ok := m.caughtUpReported(m.viewerTok); ok {
		t.Fatalf("a viewer's caught_up has reported %v", got)
	}
	fromMod = m.mod.count()
	m.ok(m.mod, m.mJR, "dismiss_report", map[string]any{"id": id})
	m.mod.await(fromMod, 30*time.Second, "reports open 0", open(0))
	m.noReportsSince(m.viewer, fromViewer, "a viewer")
	if got, ok := m.caughtUpReported(m.modTok); ok {
		t.Fatalf("after the dismissal, a moderator's caught_up has reported %v", got)
	}
}

// TestRevokedModeratorToldNoMoreReports: a moderator whose role is
// revoked while they watch is pushed no more reports, without a rejoin.
func TestRevokedModeratorToldNoMoreReports(t *testing.T) {
	m := newModEnv(t, nil)
	id := m.postAs(m.author, m.authorJR, "a note")
	if err := m.accounts.Revoke(t.Context(), m.modID, domain.RoleModerator, 0, "", eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	from := m.mod.count()
	m.ok(m.viewer, m.viewerJR, "report_annotation", map[string]any{"id": id, "reason": "rude"})
	m.noReportsSince(m.mod, from, "a former moderator")
}

// noReportsSince fails if c, who, was pushed reports since its frame
// from. It posts a note and waits for it first: by the time c has the
// note, it would have had any reports push made before it.
func (m *modEnv) noReportsSince(c *client, from int, who string) {
	m.t.Helper()
	later := m.postAs(m.author, m.authorJR, "a later note")
	c.await(from, 30*time.Second, "the later note", func(f frame) bool {
		var p struct{ ID int64 }
		return f.Event == "new_annotation" && json.Unmarshal(f.Payload, &p) == nil && p.ID == later
	})
	c.mu.Lock()
	frames := slices.Clone(c.frames[from:])
	c.mu.Unlock()
	for _, f := range frames {
		if f.Event == "reports" {
			m.t.Fatalf("%s was pushed %s %s", who, f.Event, f.Payload)
		}
	}
}
