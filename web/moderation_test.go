package web

import (
	"encoding/json"
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
}
