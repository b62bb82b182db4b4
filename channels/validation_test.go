package channels_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/videologue/videologue/domain"
)

func TestNewAnnotationValidation(t *testing.T) {
	e := newEnv(t, permissive())
	uid, name, tok := e.user("val")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	c := e.dial(tok)
	jr := c.mustJoin(topic, map[string]any{})
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	cases := []struct {
		name    string
		payload any
		reason  string // "" means ok
		body    string // what the log must hold when ok
	}{
		{"plain", map[string]any{"body": "nice shot", "at": 1500}, "", "nice shot"},
		{"trimmed", map[string]any{"body": "  \n spaced \t ", "at": 0}, "", "spaced"},
		{"1000 chars", map[string]any{"body": strings.Repeat("é", 1000), "at": 1}, "", strings.Repeat("é", 1000)},
		{"html verbatim", map[string]any{"body": `<script>alert("x")</script><img src=x onerror=alert(1)>`, "at": 2}, "", `<script>alert("x")</script><img src=x onerror=alert(1)>`},
		{"sql-looking verbatim", map[string]any{"body": `'; DROP TABLE annotations; --`, "at": 3}, "", `'; DROP TABLE annotations; --`},
		{"extra fields ignored", map[string]any{"body": "mine", "at": 4, "user_id": 999, "id": 7, "username": "mallory", "inserted_at": "1999"}, "", "mine"},
		{"at max", map[string]any{"body": "end", "at": int64(domain.MaxAt)}, "", "end"},
		{"blank", map[string]any{"body": "   ", "at": 1}, "body can't be blank", ""},
		{"empty", map[string]any{"body": "", "at": 1}, "body can't be blank", ""},
		{"1001 chars", map[string]any{"body": strings.Repeat("a", 1001), "at": 1}, "body must be at most 1000 characters", ""},
		{"100000 chars", map[string]any{"body": strings.Repeat("a", 100_000), "at": 1}, "message too large", ""},
		{"body missing", map[string]any{"at": 1}, "body must be a string", ""},
		{"body number", map[string]any{"body": 12, "at": 1}, "body must be a string", ""},
		{"body null", map[string]any{"body": nil, "at": 1}, "body must be a string", ""},
		{"at missing", map[string]any{"body": "x"}, "at must be an integer", ""},
		{"at negative", map[string]any{"body": "x", "at": -1}, "at must be an integer", ""},
		{"at fractional", map[string]any{"body": "x", "at": 1.5}, "at must be an integer", ""},
		{"at 1.0", map[string]any{"body": "x", "at": raw("1.0")}, "at must be an integer", ""},
		{"at exponent", map[string]any{"body": "x", "at": raw("1e3")}, "at must be an integer", ""},
		{"at string", map[string]any{"body": "x", "at": "100"}, "at must be an integer", ""},
		{"at huge", map[string]any{"body": "x", "at": int64(domain.MaxAt) + 1}, "at must be an integer", ""},
		{"at overflow", map[string]any{"body": "x", "at": raw("99999999999999999999999")}, "at must be an integer", ""},
		{"at bool", map[string]any{"body": "x", "at": true}, "at must be an integer", ""},
		{"at null", map[string]any{"body": "x", "at": nil}, "at must be an integer", ""},
		{"lone high surrogate", map[string]any{"body": raw(`"a\ud800b"`), "at": 1}, "lone UTF-16 surrogate", ""},
		{"lone low surrogate", map[string]any{"body": raw(`"\udfff"`), "at": 1}, "lone UTF-16 surrogate", ""},
		{"reversed pair", map[string]any{"body": raw(`"\ude00\ud83d"`), "at": 1}, "lone UTF-16 surrogate", ""},
		{"surrogate pair", map[string]any{"body": raw(`"\ud83d\ude00"`), "at": 5}, "", "\U0001F600"},
		{"escaped backslash", map[string]any{"body": raw(`"\\ud800"`), "at": 6}, "", `\ud800`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.readStream(domain.VideoStream(vid)))
			f := c.request(jr, topic, "new_annotation", tc.payload)
			st, resp := f.reply()
			if tc.reason != "" {
				if st != "error" || !strings.Contains(f.reason(), tc.reason) {
					t.Fatalf("reply %s, want an error containing %q", f.Payload, tc.reason)
				}
				if after := len(e.readStream(domain.VideoStream(vid))); after != before {
					t.Fatalf("a refused push wrote %d events", after-before)
				}
				return
			}
			if st != "ok" {
				t.Fatalf("reply %s, want ok", f.Payload)
			}
			var r struct{ ID int64 }
			_ = json.Unmarshal(resp, &r)
			evs := e.readStream(domain.VideoStream(vid))
			ev := evs[len(evs)-1]
			var posted domain.AnnotationPosted
			if err := json.Unmarshal(ev.Data, &posted); err != nil {
				t.Fatal(err)
			}
			if domain.IDFromRevision(ev.Revision) != r.ID || posted.Body != tc.body || posted.UserID != uid || posted.Username != name {
				t.Fatalf("log holds %+v at id %d; reply id %d", posted, domain.IDFromRevision(ev.Revision), r.ID)
			}
		})
	}
	// Every accepted post reached the sender, exactly once, in order.
	want := e.logIDs(vid)
	c.await(0, 5e9, "all broadcasts", func(frame) bool { return len(c.annotations(topic)) >= len(want) })
	if got := ids(c.annotations(topic)); !equal(got, want) {
		t.Fatalf("sender saw %v, log has %v", got, want)
	}
	if a := c.annotations(topic)[3]; !strings.HasPrefix(a.Body, "<script>") {
		t.Fatalf("broadcast body altered: %q", a.Body)
	}
}

func TestEditAndDeleteByAuthorOnly(t *testing.T) {
	e := newEnv(t, permissive())
	aid, _, atok := e.user("author")
	_, _, otok := e.user("other")
	vid := e.video(aid)
	topic := "videos:" + itoa(vid)
	a, o := e.dial(atok), e.dial(otok)
	aj, oj := a.mustJoin(topic, map[string]any{}), o.mustJoin(topic, map[string]any{})
	f := a.request(aj, topic, "new_annotation", map[string]any{"body": "first", "at": 10})
	var posted struct{ ID int64 }
	_, resp := f.reply()
	_ = json.Unmarshal(resp, &posted)

	if r := o.request(oj, topic, "edit_annotation", map[string]any{"id": posted.ID, "body": "hijacked"}); !strings.Contains(r.reason(), "only the author") {
		t.Fatalf("edit by another user: %s", r.Payload)
	}
	if r := o.request(oj, topic, "delete_annotation", map[string]any{"id": posted.ID}); !strings.Contains(r.reason(), "only the author") {
		t.Fatalf("delete by another user: %s", r.Payload)
	}
	if r := a.request(aj, topic, "edit_annotation", map[string]any{"id": 999, "body": "x"}); r.reason() != "not found" {
		t.Fatalf("edit unknown id: %s", r.Payload)
	}
	if r := a.request(aj, topic, "edit_annotation", map[string]any{"id": posted.ID, "body": " "}); r.reason() != "body can't be blank" {
		t.Fatalf("edit to blank: %s", r.Payload)
	}
	if st, _ := a.request(aj, topic, "edit_annotation", map[string]any{"id": posted.ID, "body": "second"}).reply(); st != "ok" {
		t.Fatal("author cannot edit")
	}
	upd := o.await(0, 5e9, "annotation_updated", func(f frame) bool { return f.Event == "annotation_updated" })
	var u annotation
	_ = json.Unmarshal(upd.Payload, &u)
	if u.ID != posted.ID || u.Body != "second" || u.At != 10 {
		t.Fatalf("annotation_updated = %s", upd.Payload)
	}
	if st, _ := a.request(aj, topic, "delete_annotation", map[string]any{"id": posted.ID}).reply(); st != "ok" {
		t.Fatal("author cannot delete")
	}
	del := o.await(0, 5e9, "annotation_deleted", func(f frame) bool { return f.Event == "annotation_deleted" })
	var gone struct{ ID, Rev int64 }
	if json.Unmarshal(del.Payload, &gone) != nil || gone.ID != posted.ID || gone.Rev == 0 {
		t.Fatalf("annotation_deleted = %s", del.Payload)
	}
	if r := a.request(aj, topic, "edit_annotation", map[string]any{"id": posted.ID, "body": "zombie"}); !strings.Contains(r.reason(), "deleted") {
		t.Fatalf("edit after delete: %s", r.Payload)
	}
	if r := a.request(aj, topic, "unknown_event", map[string]any{}); r.reason() != "unknown event" {
		t.Fatalf("unknown event: %s", r.Payload)
	}
	// A new joiner sees the live annotations only; the log keeps all.
	n := e.dial(otok)
	_, jf := n.join(topic, map[string]any{})
	if got := annotationsOf([]frame{{local: true, Topic: topic, localRef: jf.joinRef()}, jf}, topic); len(got) != 0 {
		t.Fatalf("join after delete shows %v", got)
	}
	if got := len(e.readStream(domain.VideoStream(vid))); got != 3 {
		t.Fatalf("video stream has %d events, want posted, edited, deleted", got)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
