// Package stats summarizes a video's activity over a window of server
// time for analysts: the audience over time and at its peak, where in the
// video people comment, and how long viewings last. It reads the
// activity read model through its queries only.
package stats

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/videologue/videologue/projections"
)

// ReadModels is what a summary reads (a *projections.DB).
type ReadModels interface {
	Counts(ctx context.Context, vid int64) (projections.Counts, error)
	Timeline(ctx context.Context, vid int64, from, to time.Time, fn func(projections.Entry) error) error
	Viewings(ctx context.Context, vid int64, from, to time.Time, fn func(projections.Viewing) error) error
}

// Summary summarizes a video's activity over a wall-clock window.
type Summary struct {
	VideoID int64         `json:"video_id"`
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
	Step    time.Duration `json:"step_ns"`
	// Viewers is the number of connections watching over time: one point
	// per step, with the count at its start and the most during it.
	Viewers []ViewerPoint `json:"viewers"`
	// Peak is the most connections watching at once in the window, first
	// reached at PeakAt.
	Peak   int       `json:"peak_viewers"`
	PeakAt time.Time `json:"peak_at,omitzero"`
	// Heatmap counts the annotations posted in the window by the second
	// of the video they are pinned to: where people comment. Seconds
	// without any are left out.
	Heatmap []HeatCell `json:"heatmap"`
	// Posted, Edited and Deleted count annotation events in the window.
	Posted  int64 `json:"annotations_posted"`
	Edited  int64 `json:"annotations_edited"`
	Deleted int64 `json:"annotations_deleted"`
	// Viewings summarizes the viewings that overlap the window; one
	// still open counts up to To.
	Viewings Viewings `json:"viewings"`
}

// ViewerPoint is the audience during one step of a Summary.
type ViewerPoint struct {
	T        time.Time `json:"t"`
	Watching int       `json:"watching"`
	Max      int       `json:"max"`
}

// HeatCell is the number of annotations pinned to one second of a video.
type HeatCell struct {
	Second      int64 `json:"second"`
	Annotations int64 `json:"annotations"`
}

// Viewings describe viewings and their lengths.
type Viewings struct {
	Count   int           `json:"count"`
	Open    int           `json:"open"`
	Viewers int           `json:"distinct_users"`
	Total   time.Duration `json:"total_ns"`
	Mean    time.Duration `json:"mean_ns"`
	Median  time.Duration `json:"median_ns"`
	P90     time.Duration `json:"p90_ns"`
	Max     time.Duration `json:"max_ns"`
	// Lengths is a histogram: how many viewings lasted under each bound
	// (the last bound is open).
	Lengths []LengthBucket `json:"lengths"`
}

// LengthBucket counts viewings shorter than Under (0: the rest).
type LengthBucket struct {
	Under time.Duration `json:"under_ns"`
	Count int           `json:"count"`
}

var lengthBounds = []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 0}

// maxPoints bounds the viewers series whatever step is asked for.
const maxPoints = 10000

// Of summarizes video vid over [from, to). A zero from is the video's
// first event, a zero to is now; step 0 picks about 120 points.
func Of(ctx context.Context, rm ReadModels, vid int64, from, to time.Time, step time.Duration, now time.Time) (Summary, error) {
	if from.IsZero() || to.IsZero() {
		c, err := rm.Counts(ctx, vid)
		if err != nil {
			return Summary{}, err
		}
		if from.IsZero() {
			from = c.FirstAt
		}
		if to.IsZero() {
			to = now
		}
	}
	if !to.After(from) {
		to = from.Add(time.Second)
	}
	window := to.Sub(from)
	if step <= 0 {
		step = max(time.Second, (window / 120).Round(time.Second))
	}
	if window/step > maxPoints {
		step = window / maxPoints
	}
	st := Summary{VideoID: vid, From: from, To: to, Step: step, Viewers: []ViewerPoint{}, Heatmap: []HeatCell{}}
	if err := viewers(ctx, rm, vid, &st); err != nil {
		return Summary{}, err
	}
	heat := map[int64]int64{}
	err := rm.Timeline(ctx, vid, from, to, func(e projections.Entry) error {
		switch e.Kind {
		case projections.KindPosted:
			st.Posted++
			heat[e.At/1000]++
		case projections.KindEdited:
			st.Edited++
		case projections.KindDeleted:
			st.Deleted++
		}
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	for s, n := range heat {
		st.Heatmap = append(st.Heatmap, HeatCell{Second: s, Annotations: n})
	}
	slices.SortFunc(st.Heatmap, func(a, b HeatCell) int { return cmp.Compare(a.Second, b.Second) })
	return st, nil
}

// viewers fills the viewers series, the peak and the viewing summary
// from the viewings overlapping the window.
func viewers(ctx context.Context, rm ReadModels, vid int64, st *Summary) error {
	type delta struct {
		t time.Time
		d int
	}
	var deltas []delta
	var lengths []time.Duration
	users := map[int64]bool{}
	base := 0 // watching at From
	err := rm.Viewings(ctx, vid, st.From, st.To, func(s projections.Viewing) error {
		if !s.Open() && !s.LeftAt.After(st.From) {
			return nil
		}
		end := s.LeftAt
		if s.Open() {
			st.Viewings.Open++
			end = st.To
		}
		lengths = append(lengths, max(0, end.Sub(s.JoinedAt)))
		users[s.UserID] = true
		if s.JoinedAt.After(st.From) {
			deltas = append(deltas, delta{s.JoinedAt, +1})
		} else {
			base++
		}
		if !s.Open() && s.LeftAt.Before(st.To) {
			deltas = append(deltas, delta{s.LeftAt, -1})
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Leaves before joins at the same instant: a reconnect is not a peak.
	slices.SortFunc(deltas, func(a, b delta) int { return cmp.Or(a.t.Compare(b.t), cmp.Compare(a.d, b.d)) })
	cur, i := base, 0
	st.Peak, st.PeakAt = base, st.From
	apply := func(until time.Time, inclusive bool) int {
		most := cur
		for ; i < len(deltas) && (deltas[i].t.Before(until) || inclusive && deltas[i].t.Equal(until)); i++ {
			cur += deltas[i].d
			most = max(most, cur)
			if cur > st.Peak {
				st.Peak, st.PeakAt = cur, deltas[i].t
			}
		}
		return most
	}
	// The point count bounds the loop too: To.Sub(From) saturates for
	// windows over 292 years, so the step alone does not.
	for t := st.From; t.Before(st.To) && len(st.Viewers) < maxPoints; t = t.Add(st.Step) {
		apply(t, true) // what happened at the point's instant counts in it
		p := ViewerPoint{T: t, Watching: cur}
		p.Max = apply(t.Add(st.Step), false)
		st.Viewers = append(st.Viewers, p)
	}
	if st.Peak == 0 {
		st.PeakAt = time.Time{}
	}
	summarize(&st.Viewings, lengths, len(users))
	return nil
}

func summarize(ss *Viewings, lengths []time.Duration, users int) {
	ss.Count, ss.Viewers = len(lengths), users
	for _, b := range lengthBounds {
		ss.Lengths = append(ss.Lengths, LengthBucket{Under: b})
	}
	if len(lengths) == 0 {
		return
	}
	slices.Sort(lengths)
	for _, l := range lengths {
		ss.Total += l
		for i, b := range lengthBounds {
			if b == 0 || l < b {
				ss.Lengths[i].Count++
				break
			}
		}
	}
	ss.Mean = ss.Total / time.Duration(len(lengths))
	ss.Median = lengths[len(lengths)/2]
	ss.P90 = lengths[min(len(lengths)-1, len(lengths)*9/10)]
	ss.Max = lengths[len(lengths)-1]
}
