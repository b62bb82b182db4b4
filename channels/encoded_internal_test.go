package channels

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
)

// The hub keeps the latest encodedRecent encodings and no more; an
// annotation kept again (edited) is kept as it is now, and a forgotten
// (deleted) one is encoded afresh.
func TestEncodedKeepsTheRecent(t *testing.T) {
	var e encoded
	for id := int64(1); id <= encodedRecent+10; id++ {
		e.keep(id, []byte{byte(id)})
	}
	if len(e.m) != encodedRecent {
		t.Fatalf("%d kept, want %d", len(e.m), encodedRecent)
	}
	for id := int64(1); id <= 10; id++ {
		if _, ok := e.m[id]; ok {
			t.Fatalf("annotation %d, among the oldest, still kept", id)
		}
	}
	last := int64(encodedRecent + 10)
	e.keep(last, []byte("edited"))
	if string(e.m[last]) != "edited" {
		t.Fatalf("kept %q after the edit", e.m[last])
	}
	a := &domain.Annotation{ID: last, Body: "now", UserID: 1, Username: "u", InsertedAt: time.Unix(1, 0)}
	e.forget(last)
	if got := e.of(a); string(got) != string(annotationJSONBytes(a)) {
		t.Fatalf("forgotten annotation encoded as %s", got)
	}
}

// withRev makes the push clients receive: the annotation with rev.
func TestWithRev(t *testing.T) {
	a := &domain.Annotation{ID: 7, Body: `say "hi"`, At: 1500, UserID: 2, Username: "u", InsertedAt: time.Unix(1, 0), EditedAt: time.Unix(2, 0)}
	var got map[string]any
	if err := json.Unmarshal(withRev(annotationJSONBytes(a), 42), &got); err != nil {
		t.Fatal(err)
	}
	if got["rev"] != float64(42) || got["id"] != float64(7) || got["body"] != `say "hi"` || got["edited_at"] == nil {
		t.Fatalf("push %v", got)
	}
}
