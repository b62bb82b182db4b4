package projections

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Counts returns video vid's running totals (zero for a video without
// activity).
func (d *DB) Counts(ctx context.Context, vid int64) (Counts, error) {
	v, closer, err := d.db.Get(newKey(nsActivity, 'c').i64(vid))
	if errors.Is(err, pebble.ErrNotFound) {
		return Counts{VideoID: vid}, nil
	}
	if err != nil {
		return Counts{}, &Error{Op: "counts", Err: err}
	}
	defer closer.Close()
	return decodeCounts(v)
}

// Annotations calls fn for each live annotation of video vid with its
// current text, in video-time order (then id), until fn returns an error.
// It streams: memory stays bounded however many there are.
func (d *DB) Annotations(ctx context.Context, vid int64, fn func(Annotation) error) error {
	return d.annotationsAt(ctx, vid, time.Unix(0, math.MaxInt64), fn)
}

// Timeline calls fn for every event of video vid with a server time in
// [from, to) (zero bounds are open), in time order, until fn returns an
// error. Memory stays bounded however long the timeline.
func (d *DB) Timeline(ctx context.Context, vid int64, from, to time.Time, fn func(Entry) error) error {
	lo, hi := timeRange(newKey(nsActivity, 't').i64(vid), from, to)
	return d.scanRange(ctx, lo, hi, func(k, v []byte) error {
		e, err := decodeEntry(k, v)
		if err != nil {
			return err
		}
		if err := d.openEntry(ctx, &e); err != nil {
			return err
		}
		return fn(e)
	})
}

// Viewings calls fn for every viewing of video vid that overlaps
// [from, to) (zero bounds are open), in order of joining.
func (d *DB) Viewings(ctx context.Context, vid int64, from, to time.Time, fn func(Viewing) error) error {
	lo, hi := timeRange(newKey(nsActivity, 'v').i64(vid), time.Time{}, to)
	return d.scanRange(ctx, lo, hi, func(_, v []byte) error {
		s, err := decodeViewing(v)
		if err != nil {
			return err
		}
		if !from.IsZero() && !s.Open() && s.LeftAt.Before(from) {
			return nil
		}
		if err := d.openViewing(ctx, &s); err != nil {
			return err
		}
		return fn(s)
	})
}
