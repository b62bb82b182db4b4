package projections

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
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

func TestStats(t *testing.T) {
	log := newMemLog()
	ev := func(typ string, v any) eventstore.EventData {
		return eventstore.EventData{Type: typ, Data: mustJSON(v)}
	}
	join := func(user int64, conn string, at time.Duration) {
		log.add(domain.ViewersStream(1), ev(domain.TypeViewerJoined, domain.ViewerJoined{UserID: user, Username: "u", ConnectionID: conn}), t0.Add(at))
	}
	leave := func(conn string, at time.Duration) {
		log.add(domain.ViewersStream(1), ev(domain.TypeViewerLeft, domain.ViewerLeft{ConnectionID: conn, Reason: "left"}), t0.Add(at))
	}
	post := func(at int64, when time.Duration) {
		log.add(domain.VideoStream(1), ev(domain.TypeAnnotationPosted, domain.AnnotationPosted{UserID: 1, Username: "a", Body: "x", At: at}), t0.Add(when))
	}
	join(1, "a", 0)
	join(2, "b", 10*time.Second)
	post(1500, 12*time.Second)
	post(1999, 13*time.Second)
	leave("a", 30*time.Second)
	join(3, "c", 40*time.Second)
	post(61000, 50*time.Second)
	leave("b", 70*time.Second)
	leave("b", 71*time.Second)  // a second leave changes nothing
	post(5000, 200*time.Second) // outside the window
	db := openDB(t, filepath.Join(t.TempDir(), "rm"))
	defer db.Close()
	rebuild(t, db, log, Builtin(), Config{})
	st, err := db.Stats(context.Background(), 1, t0, t0.Add(100*time.Second), 10*time.Second, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st.Peak != 2 || !st.PeakAt.Equal(t0.Add(10*time.Second)) {
		t.Errorf("peak %d at %v; want 2 at +10s", st.Peak, st.PeakAt)
	}
	wantWatching := []int{1, 2, 2, 1, 2, 2, 2, 1, 1, 1}
	if len(st.Viewers) != len(wantWatching) {
		t.Fatalf("%d points, want %d", len(st.Viewers), len(wantWatching))
	}
	for i, p := range st.Viewers {
		if p.Watching != wantWatching[i] {
			t.Errorf("point %d (%v): watching %d, want %d", i, p.T.Sub(t0), p.Watching, wantWatching[i])
		}
	}
	if len(st.Heatmap) != 2 || st.Heatmap[0] != (HeatCell{1, 2}) || st.Heatmap[1] != (HeatCell{61, 1}) || st.Posted != 3 {
		t.Errorf("heatmap %v, posted %d; want [{1 2} {61 1}], 3", st.Heatmap, st.Posted)
	}
	ss := st.Viewings
	if ss.Count != 3 || ss.Open != 1 || ss.Viewers != 3 || ss.Median != 60*time.Second || ss.Max != 60*time.Second || ss.Total != 150*time.Second {
		t.Errorf("viewings %+v; want 3 (1 open), lengths 30s 60s 60s", ss)
	}
	if ss.Lengths[1].Count != 1 || ss.Lengths[2].Count != 2 { // under a minute: 30s; under 5 minutes: 60s twice
		t.Errorf("lengths %+v", ss.Lengths)
	}
	if st.Viewers[1].Max != 2 || st.Viewers[0].Max != 1 {
		t.Errorf("max per step %+v", st.Viewers[:2])
	}
}
