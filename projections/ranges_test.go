package projections

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// A range's duration reaches every read model that shows an annotation's
// moment: the audit trail and the timeline (its edit and delete too), the
// annotations as they are now, and the state as of a time.
func TestRangesInTheReadModels(t *testing.T) {
	log := newMemLog()
	log.add(domain.UsersStream, evData(t, domain.TypeUserRegistered, domain.UserRegistered{Username: "carol"}, eventstore.Metadata{}), t0)
	log.add(domain.VideoStream(1), evData(t, domain.TypeAnnotationPosted, domain.AnnotationPosted{UserID: 1, Username: "carol", Body: "the chorus", At: 2500, Duration: 4000}, eventstore.Metadata{}), t0.Add(time.Second))
	log.add(domain.VideoStream(1), evData(t, domain.TypeAnnotationPosted, domain.AnnotationPosted{UserID: 1, Username: "carol", Body: "a moment", At: 9000}, eventstore.Metadata{}), t0.Add(2*time.Second))
	log.add(domain.VideoStream(1), evData(t, domain.TypeAnnotationEdited, domain.AnnotationEdited{AnnotationID: 1, UserID: 1, Body: "the whole chorus"}, eventstore.Metadata{}), t0.Add(3*time.Second))
	log.add(domain.VideoStream(1), evData(t, domain.TypeAnnotationDeleted, domain.AnnotationDeleted{AnnotationID: 1, UserID: 1}, eventstore.Metadata{}), t0.Add(4*time.Second))
	db := openDB(t, filepath.Join(t.TempDir(), "rm"))
	defer db.Close()
	rebuild(t, db, log, Builtin(), Config{})
	ctx := context.Background()

	var trail, timeline []Entry
	if err := db.Audit(ctx, AuditFilter{}, func(e Entry) error { trail = append(trail, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.Timeline(ctx, 1, time.Time{}, time.Time{}, func(e Entry) error { timeline = append(timeline, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(trail) != 4 || len(timeline) != 4 {
		t.Fatalf("trail %+v\ntimeline %+v", trail, timeline)
	}
	for i, want := range []int64{4000, 0, 4000, 4000} {
		if trail[i].Duration != want || timeline[i].Duration != want {
			t.Errorf("entry %d (%s): audit duration %d, timeline %d; want %d", i, trail[i].Kind, trail[i].Duration, timeline[i].Duration, want)
		}
	}
	state, err := db.StateAt(ctx, 1, t0.Add(2500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if len(state.Annotations) != 2 || state.Annotations[0].Duration != 4000 || state.Annotations[1].Duration != 0 {
		t.Fatalf("state as of before the delete: %+v", state.Annotations)
	}
}
