package domain_test

import (
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
