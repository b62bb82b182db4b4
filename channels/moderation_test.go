package channels_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// modEnv is a video with an author, a viewer and a moderator, each joined
// on its own socket.
type modEnv struct {
	*env
	topic                   string
	vid                     int64
	authorID, viewerID      int64
	author, viewer, mod     *client
	authorJR, viewerJR, mJR string
	authorTok, viewerTok    string
	modTok                  string
	modID                   int64
}

func newModEnv(t *testing.T, cfg func(*envCfg)) *modEnv {
	t.Helper()
	c := permissive()
	if cfg != nil {
		cfg(&c)
	}
	e := newEnv(t, c)
	m := &modEnv{env: e}
	var authorName string
	m.authorID, authorName, m.authorTok = e.user("author")
	_ = authorName
	m.viewerID, _, m.viewerTok = e.user("viewer")
	modID, _, modTok := e.user("mod")
	m.modTok, m.modID = modTok, modID
	if err := e.accounts.Grant(t.Context(), modID, domain.RoleModerator, 0, "", eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	m.vid = e.video(m.authorID)
	m.topic = "videos:" + itoa(m.vid)
	m.author, m.viewer, m.mod = e.dial(m.authorTok), e.dial(m.viewerTok), e.dial(modTok)
	m.authorJR = m.author.mustJoin(m.topic, map[string]any{})
	m.viewerJR = m.viewer.mustJoin(m.topic, map[string]any{})
	m.mJR = m.mod.mustJoin(m.topic, map[string]any{})
	return m
}

// postAs posts body by c and returns the id.
func (m *modEnv) postAs(c *client, jr, body string) int64 {
	m.t.Helper()
	st, resp := c.request(jr, m.topic, "new_annotation", map[string]any{"body": body, "at": 1000}).reply()
	var r struct {
		ID int64 `json:"id"`
	}
	if st != "ok" || json.Unmarshal(resp, &r) != nil {
		m.t.Fatalf("post: %s", resp)
	}
	return r.ID
}

// refused sends event and wants an error reply containing reason and
// nothing written to the video's stream.
func (m *modEnv) refused(c *client, jr, event string, payload any, reason string) {
	m.t.Helper()
	before := len(m.readStream(domain.VideoStream(m.vid)))
	f := c.request(jr, m.topic, event, payload)
	if st, _ := f.reply(); st != "error" || !strings.Contains(f.reason(), reason) {
		m.t.Fatalf("%s %v: %s, want an error with %q", event, payload, f.Payload, reason)
	}
	if after := len(m.readStream(domain.VideoStream(m.vid))); after != before {
		m.t.Fatalf("refused %s wrote %d events", event, after-before)
	}
}

func (m *modEnv) ok(c *client, jr, event string, payload any) {
	m.t.Helper()
	if f := c.request(jr, m.topic, event, payload); func() bool { st, _ := f.reply(); return st != "ok" }() {
		m.t.Fatalf("%s %v: %s", event, payload, f.Payload)
	}
}

type envCfg = channels.Config

// TestModerationRefusals: each bad report, hide, dismissal and reaction
// is a phx_reply error with a reason, and writes nothing.
func TestModerationRefusals(t *testing.T) {
	m := newModEnv(t, nil)
	id := m.postAs(m.author, m.authorJR, "a note")
	long := strings.Repeat("é", domain.MaxReasonBytes/2+1) // one byte over in UTF-8

	m.refused(m.viewer, m.viewerJR, "report_annotation", map[string]any{"id": 999, "reason": "spam"}, "id must be the id of an annotation")
	m.refused(m.viewer, m.viewerJR, "report_annotation", map[string]any{"id": "x", "reason": "spam"}, "id must be the integer id")
	m.refused(m.viewer, m.viewerJR, "report_annotation", map[string]any{"id": id, "reason": "  "}, "reason can't be blank")
	m.refused(m.viewer, m.viewerJR, "report_annotation", map[string]any{"id": id, "reason": long}, "reason must be at most 500 bytes")
	m.ok(m.viewer, m.viewerJR, "report_annotation", map[string]any{"id": id, "reason": "spam"})
	m.refused(m.viewer, m.viewerJR, "report_annotation", map[string]any{"id": id, "reason": "spam again"}, "you already reported this item")
	// Another socket of the same user: the report is the user's.
	again := m.dial(m.viewerTok)
	jr := again.mustJoin(m.topic, map[string]any{})
	m.refused(again, jr, "report_annotation", map[string]any{"id": id, "reason": "spam"}, "you already reported this item")

	m.refused(m.viewer, m.viewerJR, "hide_annotation", map[string]any{"id": id, "reason": "spam"}, "only moderators may do this")
	m.refused(m.author, m.authorJR, "dismiss_report", map[string]any{"id": id}, "only moderators may do this")
	m.refused(m.mod, m.mJR, "hide_annotation", map[string]any{"id": 999, "reason": "spam"}, "id must be the id of an annotation")
	m.refused(m.mod, m.mJR, "hide_annotation", map[string]any{"id": id}, "reason can't be blank")

	m.refused(m.viewer, m.viewerJR, "react", map[string]any{"id": id, "reaction": "thumbs_down", "on": true}, "reaction must be one of thumbs_up, heart, laugh, surprised")
	m.refused(m.viewer, m.viewerJR, "react", map[string]any{"id": id, "reaction": "heart", "on": "yes"}, "on must be true or false")
	m.refused(m.viewer, m.viewerJR, "react", map[string]any{"id": 999, "reaction": "heart", "on": true}, "id must be the id of an annotation")
	m.refused(m.viewer, m.viewerJR, "react", map[string]any{"id": 0, "reaction": "heart", "on": true}, "id must be the integer id")

	m.ok(m.mod, m.mJR, "hide_annotation", map[string]any{"id": id, "reason": "spam, as reported"})
	m.refused(m.mod, m.mJR, "hide_annotation", map[string]any{"id": id, "reason": "twice"}, "already hidden")
	m.refused(m.mod, m.mJR, "dismiss_report", map[string]any{"id": id}, "no open reports")
	m.refused(again, jr, "react", map[string]any{"id": id, "reaction": "heart", "on": true}, "hidden by a moderator")
	m.refused(m.author, m.authorJR, "edit_annotation", map[string]any{"id": id, "body": "sneaky"}, "hidden by a moderator")
	other := m.postAs(m.author, m.authorJR, "another")
	m.refused(m.mod, m.mJR, "dismiss_report", map[string]any{"id": other}, "no open reports")
}

// TestReportsRateLimited: a user's reports are limited across sockets and
// reconnects; the refused one writes nothing.
func TestReportsRateLimited(t *testing.T) {
	m := newModEnv(t, func(c *envCfg) { c.ReportRate, c.ReportBurst = 0.0001, 2 })
	var ids []int64
	for i := range 3 {
		ids = append(ids, m.postAs(m.author, m.authorJR, "note "+itoa(int64(i))))
	}
	m.ok(m.viewer, m.viewerJR, "report_annotation", map[string]any{"id": ids[0], "reason": "r"})
	m.viewer.close()
	c := m.dial(m.viewerTok)
	jr := c.mustJoin(m.topic, map[string]any{})
	m.ok(c, jr, "report_annotation", map[string]any{"id": ids[1], "reason": "r"})
	m.refused(c, jr, "report_annotation", map[string]any{"id": ids[2], "reason": "r"}, "too many reports")
}

// TestHideLive: a hide reaches every viewer as annotation_hidden; the
// join reply of someone else leaves the item out, its author's marks it.
// Dismissing a report writes the dismissal.
func TestHideLive(t *testing.T) {
	m := newModEnv(t, nil)
	id := m.postAs(m.author, m.authorJR, "rude note")
	keep := m.postAs(m.author, m.authorJR, "fine note")
	m.ok(m.viewer, m.viewerJR, "report_annotation", map[string]any{"id": keep, "reason": "not sure"})
	m.ok(m.mod, m.mJR, "dismiss_report", map[string]any{"id": keep, "reason": "fine"})
	fromV, fromA := m.viewer.count(), m.author.count()
	m.ok(m.mod, m.mJR, "hide_annotation", map[string]any{"id": id, "reason": "rude"})
	for _, c := range []*client{m.viewer, m.author} {
		from := fromV
		if c == m.author {
			from = fromA
		}
		f := c.await(from, 30*time.Second, "annotation_hidden", func(f frame) bool { return f.Event == "annotation_hidden" })
		var p struct {
			ID  int64 `json:"id"`
			Rev int64 `json:"rev"`
		}
		if json.Unmarshal(f.Payload, &p) != nil || p.ID != id || p.Rev == 0 || strings.Contains(string(f.Payload), "rude note") {
			t.Fatalf("annotation_hidden %s", f.Payload)
		}
	}
	var types []string
	for _, ev := range m.readStream(domain.VideoStream(m.vid)) {
		types = append(types, ev.Type)
	}
	want := []string{domain.TypeAnnotationPosted, domain.TypeAnnotationPosted, domain.TypeAnnotationReported, domain.TypeReportsDismissed, domain.TypeAnnotationHidden}
	if strings.Join(types, " ") != strings.Join(want, " ") {
		t.Fatalf("log %v, want %v", types, want)
	}
	m.checkHiddenJoins(id, keep)
}

// checkHiddenJoins: a fresh join of the viewer lacks the hidden item and
// its text; the author's has it marked hidden.
func (m *modEnv) checkHiddenJoins(hidden, keep int64) {
	m.t.Helper()
	for _, tc := range []struct {
		tok        string
		wantHidden bool
	}{{m.viewerTok, false}, {m.authorTok, true}} {
		c := m.dial(tc.tok)
		_, f := c.join(m.topic, map[string]any{})
		var r struct {
			Annotations []struct {
				ID     int64 `json:"id"`
				Hidden bool  `json:"hidden"`
			} `json:"annotations"`
		}
		_, resp := f.reply()
		if err := json.Unmarshal(resp, &r); err != nil {
			m.t.Fatal(err)
		}
		got := map[int64]bool{}
		for _, a := range r.Annotations {
			got[a.ID] = a.Hidden
		}
		if h, ok := got[hidden]; ok != tc.wantHidden || h != tc.wantHidden {
			m.t.Fatalf("join reply %s: hidden item %d shown=%v", resp, hidden, ok)
		}
		if _, ok := got[keep]; !ok {
			m.t.Fatalf("join reply %s lacks %d", resp, keep)
		}
		if !tc.wantHidden && strings.Contains(string(resp), "rude note") {
			m.t.Fatalf("join reply carries the hidden text: %s", resp)
		}
		c.close()
	}
}

// TestHiddenCatchUpAcrossCrash: a viewer away while an item was hidden
// gets its id under "hidden" when it rejoins with last_seen_id and
// last_seen_rev, its author gets it marked under "updated", after the
// server was killed as well as before.
func TestHiddenCatchUpAcrossCrash(t *testing.T) {
	m := newModEnv(t, nil)
	id := m.postAs(m.author, m.authorJR, "rude note")
	keep := m.postAs(m.author, m.authorJR, "fine note")
	params := map[string]any{"last_seen_id": keep, "last_seen_rev": keep}
	m.hideAndAwait(id)
	rejoin := func() {
		t.Helper()
		for _, tc := range []struct {
			tok    string
			author bool
		}{{m.viewerTok, false}, {m.authorTok, true}} {
			c := m.dial(tc.tok)
			_, f := c.join(m.topic, params)
			var r struct {
				Annotations []json.RawMessage `json:"annotations"`
				Updated     []struct {
					ID     int64  `json:"id"`
					Body   string `json:"body"`
					Hidden bool   `json:"hidden"`
				} `json:"updated"`
				Hidden []int64 `json:"hidden"`
			}
			st, resp := f.reply()
			if st != "ok" || json.Unmarshal(resp, &r) != nil || len(r.Annotations) != 0 {
				t.Fatalf("rejoin: %s", resp)
			}
			if tc.author {
				if len(r.Updated) != 1 || r.Updated[0].ID != id || !r.Updated[0].Hidden || len(r.Hidden) != 0 {
					t.Fatalf("author's rejoin: %s", resp)
				}
			} else if len(r.Hidden) != 1 || r.Hidden[0] != id || len(r.Updated) != 0 || strings.Contains(string(resp), "rude") {
				t.Fatalf("viewer's rejoin: %s", resp)
			}
			c.close()
		}
		m.checkHiddenJoins(id, keep)
	}
	rejoin()
	m.crash()
	m.start()
	rejoin()
}

// TestHiddenInPagedCatchUp: when the catch-up of a rejoin spans pages, a
// hide it carries comes as an annotation_hidden push without the text for
// others, and as annotation_updated marked hidden for the author; neither
// sees the hidden item as a new annotation.
func TestHiddenInPagedCatchUp(t *testing.T) {
	m := newModEnv(t, func(c *channels.Config) { c.PageSize = 2 })
	var ids []int64
	for i := range 6 {
		ids = append(ids, m.postAs(m.author, m.authorJR, "note "+itoa(int64(i))))
	}
	last := ids[len(ids)-1]
	// Changes after the client's rev: three edits, then the hide of one.
	for _, id := range ids[:3] {
		m.ok(m.author, m.authorJR, "edit_annotation", map[string]any{"id": id, "body": "edited " + itoa(id)})
	}
	hidden := ids[4]
	m.hideAndAwait(hidden)
	for _, tc := range []struct {
		tok    string
		author bool
	}{{m.viewerTok, false}, {m.authorTok, true}} {
		c := m.dial(tc.tok)
		_, f := c.join(m.topic, map[string]any{"last_seen_id": last, "last_seen_rev": last})
		if _, _, more := joinResponse(t, f); !more {
			t.Fatalf("want a paged catch-up: %s", f.Payload)
		}
		c.caughtUp(m.topic)
		var sawHidden, sawMarked bool
		c.mu.Lock()
		for _, fr := range c.frames {
			if fr.Topic != m.topic {
				continue
			}
			if strings.Contains(string(fr.Payload), `"id":`+itoa(hidden)) {
				switch {
				case fr.Event == "annotation_hidden":
					sawHidden = true
				case fr.Event == "annotation_updated" && strings.Contains(string(fr.Payload), `"hidden":true`):
					sawMarked = true
				case fr.Event == "phx_reply":
					var r struct {
						Hidden  []int64 `json:"hidden"`
						Updated []struct {
							ID     int64 `json:"id"`
							Hidden bool  `json:"hidden"`
						} `json:"updated"`
					}
					_, resp := fr.reply()
					_ = json.Unmarshal(resp, &r)
					for _, id := range r.Hidden {
						sawHidden = sawHidden || id == hidden
					}
					for _, u := range r.Updated {
						sawMarked = sawMarked || (u.ID == hidden && u.Hidden)
					}
				default:
					t.Errorf("frame %s %s", fr.Event, fr.Payload)
				}
			}
			if !tc.author && strings.Contains(string(fr.Payload), "note 4") {
				t.Errorf("the hidden text reached another viewer: %s %s", fr.Event, fr.Payload)
			}
		}
		c.mu.Unlock()
		if tc.author != sawMarked || tc.author == sawHidden {
			t.Fatalf("author %v: hidden push %v, marked update %v; frames %s", tc.author, sawHidden, sawMarked, c.dump(0))
		}
		c.close()
	}
}

// hideAndAwait hides id and waits until the viewer's join has been sent
// annotation_hidden: the video's hub has folded the hide, so a join from
// then on reflects it (one made earlier may get it as a push instead).
func (m *modEnv) hideAndAwait(id int64) {
	m.t.Helper()
	from := m.viewer.count()
	m.ok(m.mod, m.mJR, "hide_annotation", map[string]any{"id": id, "reason": "rude"})
	m.viewer.await(from, 30*time.Second, "annotation_hidden", func(f frame) bool {
		return f.Event == "annotation_hidden" && strings.Contains(string(f.Payload), `"id":`+itoa(id)+`,`)
	})
}

// TestHideReply: a reply is reported, reacted to and hidden by its id as
// an annotation is; the hide reaches viewers as annotation_hidden, and a
// join leaves the reply out for others and marks it for its author.
func TestHideReply(t *testing.T) {
	m := newModEnv(t, nil)
	parent := m.postAs(m.viewer, m.viewerJR, "a question")
	st, resp := m.author.request(m.authorJR, m.topic, "new_reply", map[string]any{"parent_id": parent, "body": "a rude answer"}).reply()
	var r struct {
		ID int64 `json:"id"`
	}
	if st != "ok" || json.Unmarshal(resp, &r) != nil || r.ID == 0 {
		t.Fatalf("reply: %s", resp)
	}
	m.ok(m.viewer, m.viewerJR, "react", map[string]any{"id": r.ID, "reaction": "surprised", "on": true})
	m.ok(m.viewer, m.viewerJR, "report_annotation", map[string]any{"id": r.ID, "reason": "rude"})
	m.hideAndAwait(r.ID)
	for _, tc := range []struct {
		tok    string
		author bool
	}{{m.viewerTok, false}, {m.authorTok, true}} {
		c := m.dial(tc.tok)
		_, f := c.join(m.topic, map[string]any{})
		_, resp := f.reply()
		var j struct {
			Replies []struct {
				ID     int64 `json:"id"`
				Hidden bool  `json:"hidden"`
			} `json:"replies"`
		}
		_ = json.Unmarshal(resp, &j)
		shown := len(j.Replies) == 1 && j.Replies[0].ID == r.ID && j.Replies[0].Hidden
		if shown != tc.author || (!tc.author && (len(j.Replies) != 0 || strings.Contains(string(resp), "rude answer"))) {
			t.Fatalf("author %v: join reply %s", tc.author, resp)
		}
		c.close()
	}
}
