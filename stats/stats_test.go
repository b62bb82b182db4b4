package stats

import (
	"context"
	"testing"
	"time"

	"github.com/videologue/videologue/projections"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// records are a video's read models as the queries give them, filtered
// by the window as projections.DB documents it.
type records struct {
	counts   projections.Counts
	viewings []projections.Viewing
	entries  []projections.Entry
}

func (r *records) Counts(context.Context, int64) (projections.Counts, error) { return r.counts, nil }

func (r *records) Timeline(_ context.Context, _ int64, from, to time.Time, fn func(projections.Entry) error) error {
	for _, e := range r.entries {
		if (from.IsZero() || !e.Time.Before(from)) && (to.IsZero() || e.Time.Before(to)) {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *records) Viewings(_ context.Context, _ int64, from, to time.Time, fn func(projections.Viewing) error) error {
	for _, v := range r.viewings {
		if (to.IsZero() || v.JoinedAt.Before(to)) && (from.IsZero() || v.Open() || !v.LeftAt.Before(from)) {
			if err := fn(v); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestSummary(t *testing.T) {
	r := &records{}
	view := func(user int64, join, leave time.Duration) {
		v := projections.Viewing{VideoID: 1, UserID: user, JoinedAt: t0.Add(join)}
		if leave > 0 {
			v.LeftAt = t0.Add(leave)
		}
		r.viewings = append(r.viewings, v)
	}
	post := func(at int64, when time.Duration) {
		r.entries = append(r.entries, projections.Entry{Time: t0.Add(when), Kind: projections.KindPosted, VideoID: 1, At: at})
	}
	view(1, 0, 30*time.Second)
	view(2, 10*time.Second, 70*time.Second)
	view(3, 40*time.Second, 0) // still watching
	post(1500, 12*time.Second)
	post(1999, 13*time.Second)
	post(61000, 50*time.Second)
	post(5000, 200*time.Second) // outside the window
	st, err := Of(context.Background(), r, 1, t0, t0.Add(100*time.Second), 10*time.Second, t0.Add(time.Hour))
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
	vs := st.Viewings
	if vs.Count != 3 || vs.Open != 1 || vs.Viewers != 3 || vs.Median != 60*time.Second || vs.Max != 60*time.Second || vs.Total != 150*time.Second {
		t.Errorf("viewings %+v; want 3 (1 open), lengths 30s 60s 60s", vs)
	}
	if vs.Lengths[1].Count != 1 || vs.Lengths[2].Count != 2 { // under a minute: 30s; under 5 minutes: 60s twice
		t.Errorf("lengths %+v", vs.Lengths)
	}
	if st.Viewers[1].Max != 2 || st.Viewers[0].Max != 1 {
		t.Errorf("max per step %+v", st.Viewers[:2])
	}
}

// A window wider than a time.Duration can hold still gives at most
// maxPoints points.
func TestSummaryBoundsPointsOverHugeWindows(t *testing.T) {
	from := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	st, err := Of(context.Background(), &records{}, 1, from, to, time.Second, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Viewers) > maxPoints {
		t.Fatalf("%d points, want at most %d", len(st.Viewers), maxPoints)
	}
}
