package projections

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// timedLog lays genHistory out in time: one event every 100ms, several
// sharing an instant now and then, as in a group commit.
func timedLog(seed uint64, n int) *memLog {
	m := newMemLog()
	at := t0
	for i, it := range genHistory(seed, 6, 2, n) {
		if i%7 != 0 {
			at = at.Add(100 * time.Millisecond)
		}
		m.add(it.stream, it.ev, at)
	}
	return m
}

// StateAt agrees with folding the video's events up to T through the
// domain's own fold, for many instants.
func TestStateAtMatchesFoldUpToT(t *testing.T) {
	log := timedLog(11, 4000)
	db := openDB(t, filepath.Join(t.TempDir(), "rm"))
	defer db.Close()
	rebuild(t, db, log, Builtin(), Config{})
	last := log.events[len(log.events)-1].RecordedAt
	for _, T := range []time.Time{t0.Add(-time.Second), t0, t0.Add(2500 * time.Millisecond), t0.Add(37*time.Second + 50*time.Millisecond), last.Add(-time.Minute), last, last.Add(time.Hour)} {
		for _, vid := range []int64{1, 2} {
			got, err := db.StateAt(context.Background(), vid, T)
			if err != nil {
				t.Fatal(err)
			}
			wantAnns, wantViewers := foldUpTo(t, log, vid, T)
			if len(got.Annotations) != len(wantAnns) {
				t.Fatalf("video %d at %v: %d annotations, want %d", vid, T, len(got.Annotations), len(wantAnns))
			}
			for i, a := range got.Annotations {
				w := wantAnns[i]
				if a.ID != w.ID || a.Body != w.Body || a.At != w.At || a.UserID != w.UserID || !a.PostedAt.Equal(w.InsertedAt) || !a.EditedAt.Equal(w.EditedAt) {
					t.Fatalf("video %d at %v: annotation %d = %+v, want %+v", vid, T, i, a, w)
				}
			}
			if len(got.Viewers) != len(wantViewers) {
				t.Fatalf("video %d at %v: %d viewers, want %d", vid, T, len(got.Viewers), len(wantViewers))
			}
			for _, s := range got.Viewers {
				if !wantViewers[s.PresenceRef] || !s.Open() {
					t.Fatalf("video %d at %v: viewer %+v should not be watching", vid, T, s)
				}
			}
		}
	}
}

// foldUpTo folds the events of video vid recorded at or before T.
func foldUpTo(t *testing.T, log *memLog, vid int64, T time.Time) ([]domain.Annotation, map[string]bool) {
	var anns domain.Annotations
	open := map[string]bool{}
	for _, ev := range log.events {
		if ev.RecordedAt.After(T) {
			continue
		}
		switch ev.Stream {
		case domain.VideoStream(vid):
			switch ev.Type {
			case domain.TypeAnnotationPosted:
				var e domain.AnnotationPosted
				mustUnmarshal(t, ev.Data, &e)
				anns.Posted(vid, ev.Revision, e, ev.RecordedAt)
			case domain.TypeAnnotationEdited:
				var e domain.AnnotationEdited
				mustUnmarshal(t, ev.Data, &e)
				anns.Edited(e, ev.RecordedAt)
			case domain.TypeAnnotationDeleted:
				var e domain.AnnotationDeleted
				mustUnmarshal(t, ev.Data, &e)
				anns.Deleted(e)
			}
		case domain.ViewersStream(vid):
			var e domain.ViewerLeft // the connection id is all that matters
			mustUnmarshal(t, ev.Data, &e)
			open[e.ConnectionID] = ev.Type == domain.TypeViewerJoined
			if !open[e.ConnectionID] {
				delete(open, e.ConnectionID)
			}
		}
	}
	return anns.ByVideoTime(), open
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
