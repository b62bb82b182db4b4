package projections

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// Rebuilding one projection of built models, in small batches, changes
// nothing.
func TestRebuildOneProjection(t *testing.T) {
	e := newEnv(t)
	loadLog(t, e.log, genHistory(6, 6, 3, 3000), 2)
	rebuild(t, e.db, e.log, Builtin(), Config{})
	other := openDB(t, filepath.Join(e.dir, "other"))
	defer other.Close()
	rebuild(t, other, e.log, Builtin(), Config{})
	for _, p := range Builtin() {
		rebuild(t, e.db, e.log, []Projection{p}, Config{BatchEvents: 97, PageEvents: 61})
		assertSameModels(t, other, e.db)
	}
	if err := e.db.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	assertSameModels(t, other, e.db)
}

// An event a projection fails to apply leaves none of its writes, in a
// rebuild as live, while the events before and after it in the same
// batch keep theirs.
func TestFailedApplyLeavesNoWrites(t *testing.T) {
	e := newEnv(t)
	loadLog(t, e.log, genHistory(7, 5, 3, 2500), 2)
	bad := func(pos uint64) bool { return pos%41 == 0 }
	failing := func() []Projection {
		ps := Builtin()
		ps[0] = &flaky{Projection: ps[0], fail: func(pos uint64, _ int) error {
			if bad(pos) {
				return fmt.Errorf("%w: injected after the writes", ErrBadEvent)
			}
			return nil
		}}
		return ps
	}
	check := func(db *DB) {
		t.Helper()
		n := 0
		for vid := int64(1); vid <= 3; vid++ {
			err := db.Timeline(context.Background(), vid, time.Time{}, time.Time{}, func(en Entry) error {
				if bad(en.Position) {
					return fmt.Errorf("a timeline entry of the failed event at %d", en.Position)
				}
				n++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if n == 0 {
			t.Fatal("no timeline at all")
		}
	}
	res := rebuild(t, e.db, e.log, failing(), Config{})
	if res.Poisoned[NameActivity] == 0 {
		t.Fatalf("rebuild: %+v", res)
	}
	check(e.db)

	db := openDB(t, filepath.Join(e.dir, "runner"))
	defer db.Close()
	r, stop := startRunner(t, db, e.log, failing(), fastRetries)
	waitFor(t, r, headOf(t, e.log))
	stop()
	check(db)
}
