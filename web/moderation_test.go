package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// TestModerationQueueAPI: moderators and admins read the open reports;
// others get 403, and 401 without credentials. The audit trail's NDJSON
// carries a report's reason.
func TestModerationQueueAPI(t *testing.T) {
	e := newAnalysisEnv(t)
	b, _ := json.Marshal(domain.AnnotationReported{AnnotationID: 2, UserID: e.ids["bob"], Username: "bob", Reason: "script in a note"})
	if _, err := e.store.Append(t.Context(), domain.VideoStream(1), eventstore.Any, eventstore.EventData{Type: domain.TypeAnnotationReported, Data: b}); err != nil {
		t.Fatal(err)
	}
	e.sync()
	for _, c := range []struct {
		user   string
		status int
	}{{"carol", http.StatusForbidden}, {"alice", http.StatusForbidden}, {"", http.StatusUnauthorized}, {"dave", http.StatusOK}} {
		code, _, body := e.get(c.user, "/api/moderation/reports")
		if code != c.status {
			t.Fatalf("%s: %d %s", c.user, code, body)
		}
		if code != http.StatusOK {
			continue
		}
		var r struct {
			Items []struct {
				AnnotationID int64  `json:"annotation_id"`
				Body         string `json:"body"`
				Username     string `json:"username"`
				Reports      []struct{ Username, Reason string }
			}
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Items) != 1 || r.Items[0].AnnotationID != 2 ||
			r.Items[0].Body != "<script>alert(1)</script>" || r.Items[0].Username != "carol" ||
			len(r.Items[0].Reports) != 1 || r.Items[0].Reports[0].Reason != "script in a note" {
			t.Fatalf("queue %s", body)
		}
	}
	if _, _, body := e.get("bob", "/api/audit/annotations"); !strings.Contains(body, `"kind":"annotation_reported"`) || !strings.Contains(body, `"reason":"script in a note"`) {
		t.Fatalf("audit trail %s", body)
	}
	for _, c := range []struct{ user, path, want string }{
		{"bob", "/audit", "script in a note"},
		{"dave", "/moderation", "script in a note"},
		{"dave", "/videos", `href="/moderation"`},
	} {
		resp, err := e.signIn(c.user).Get(e.url + c.path)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), c.want) {
			t.Fatalf("%s %s: %d, want %q in it", c.user, c.path, resp.StatusCode, c.want)
		}
	}
	resp, err := e.signIn("carol").Get(e.url + "/moderation")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a viewer's /moderation: %d", resp.StatusCode)
	}
}
