package domain_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
)

func TestAnnotationsAfterWalksFromAnID(t *testing.T) {
	var s domain.Annotations
	for rev := range uint64(6) {
		s.Posted(1, rev, domain.AnnotationPosted{Body: "b"}, time.Time{})
	}
	s.Deleted(domain.AnnotationDeleted{AnnotationID: 4})
	var got []int64
	for a := range s.After(2) {
		got = append(got, a.ID)
		if a.ID == 5 {
			break
		}
	}
	if want := []int64{3, 4, 5}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("After(2) walked %v until 5, want %v (deleted ones included)", got, want)
	}
	for range s.After(6) {
		t.Fatal("After the last id yields nothing")
	}
}

// TestPostedRange: a range's duration is folded into the annotation, and
// an instant's event is written as it was before ranges existed, so old
// logs and their hashes are unchanged.
func TestPostedRange(t *testing.T) {
	var s domain.Annotations
	a := s.Posted(1, 0, domain.AnnotationPosted{Body: "b", At: 1000, Duration: 4500}, time.Time{})
	if a.At != 1000 || a.Duration != 4500 {
		t.Fatalf("folded at %d duration %d, want 1000 and 4500", a.At, a.Duration)
	}
	b, _ := json.Marshal(domain.AnnotationPosted{UserID: 1, Username: "ann", Body: "b", At: 7})
	if want := `{"user_id":1,"username":"ann","body":"b","at":7}`; string(b) != want {
		t.Fatalf("an instant is written %s, want %s", b, want)
	}
	b, _ = json.Marshal(domain.AnnotationPosted{UserID: 1, Username: "ann", Body: "b", At: 7, Duration: 3})
	if want := `{"user_id":1,"username":"ann","body":"b","at":7,"duration":3}`; string(b) != want {
		t.Fatalf("a range is written %s, want %s", b, want)
	}
}
