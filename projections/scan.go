package projections

import (
	"context"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// scanPage is how many records a scan reads before it closes its
// iterator and hands them to the caller.
const scanPage = 1024

// scan calls fn for every record whose key starts with prefix.
func (d *DB) scan(ctx context.Context, prefix []byte, fn func(k, v []byte) error) error {
	return d.scanRange(ctx, prefix, upper(prefix), fn)
}

// scanRange calls fn for every record with a key in [lo, hi), in key
// order, until fn returns an error. It reads a page at a time and closes
// its iterator before calling fn, so that a slow consumer (an HTTP client
// reading an export) pins nothing in the database and memory stays
// bounded whatever the range holds. k and v are valid during fn only.
func (d *DB) scanRange(ctx context.Context, lo, hi []byte, fn func(k, v []byte) error) error {
	var arena []byte
	type rec struct{ k0, k1, v1 int } // key and value as offsets into arena
	var recs []rec
	lo = append([]byte(nil), lo...)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		arena, recs = arena[:0], recs[:0]
		it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return &Error{Op: "query", Err: err}
		}
		for ok := it.First(); ok && len(recs) < scanPage; ok = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return &Error{Op: "query", Err: err}
			}
			k0 := len(arena)
			arena = append(arena, it.Key()...)
			k1 := len(arena)
			arena = append(arena, v...)
			recs = append(recs, rec{k0, k1, len(arena)})
		}
		err = it.Error()
		if cerr := it.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return &Error{Op: "query", Err: err}
		}
		for _, r := range recs {
			if err := fn(arena[r.k0:r.k1], arena[r.k1:r.v1]); err != nil {
				return err
			}
		}
		if len(recs) < scanPage {
			return nil
		}
		last := recs[len(recs)-1]
		lo = append(append(lo[:0], arena[last.k0:last.k1]...), 0) // the key right after the last
	}
}

// timeRange bounds the keys prefix+time(8)+... whose time is in
// [from, to); a zero bound is open.
func timeRange(prefix key, from, to time.Time) (lo, hi []byte) {
	lo, hi = prefix, upper(prefix)
	if !from.IsZero() {
		lo = key(append([]byte(nil), prefix...)).t(from)
	}
	if !to.IsZero() {
		hi = key(append([]byte(nil), prefix...)).t(to)
	}
	return lo, hi
}
