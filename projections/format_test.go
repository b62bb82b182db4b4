package projections

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// nextFormat is a projection that writes its records in a format one
// version later than p's.
type nextFormat struct{ Projection }

func (n nextFormat) Version() uint32 { return n.Projection.Version() + 1 }

// A model stored in another format, or before formats were recorded, is
// rebuilt by CatchUp, and Run refuses it until then; a new one gets
// its format recorded.
func TestFormatChangeRebuilds(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	loadLog(t, e.log, genHistory(5, 5, 3, 2000), 4)
	catchUp(t, e.db, e.log, Builtin(), Config{})
	for _, p := range Builtin() {
		if v, ok, err := e.db.Format(p.Name()); err != nil || !ok || v != p.Version() {
			t.Fatalf("%s: format %d, %v, %v; want %d", p.Name(), v, ok, err, p.Version())
		}
	}
	want := openDB(t, filepath.Join(e.dir, "reference"))
	defer want.Close()
	rebuild(t, want, e.log, Builtin(), Config{})

	// A record only an older format would have written: a rebuild drops
	// it, a catch-up in the same format keeps it.
	stray := append([]byte{nsActivity}, "stray record"...)
	if err := e.db.db.Set(stray, []byte("old"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	has := func() bool {
		_, closer, err := e.db.db.Get(stray)
		if err == nil {
			closer.Close()
		}
		return err == nil
	}
	if catchUp(t, e.db, e.log, Builtin(), Config{}); !has() {
		t.Fatal("a catch-up in the same format dropped the model")
	}

	ps := Builtin()
	ps[0] = nextFormat{ps[0]}
	if ps[0].Name() != NameActivity {
		t.Fatal("Builtin changed order")
	}
	if err := newEngine(t, e.db, e.log, ps, Config{}).Run(ctx); !errors.Is(err, ErrFormat) {
		t.Fatalf("running over a model in another format: %v; want ErrFormat", err)
	}
	res := catchUp(t, e.db, e.log, ps, Config{})
	if has() || res.Events != headOf(t, e.log) {
		t.Fatalf("after a format change, CatchUp read %d events (head %d), stray record kept: %v", res.Events, headOf(t, e.log), has())
	}
	if v, _, _ := e.db.Format(NameActivity); v != ps[0].Version() {
		t.Fatalf("activity's format is %d after the rebuild; want %d", v, ps[0].Version())
	}
	if stale := newEngine(t, e.db, e.log, ps, Config{}).stale; len(stale) > 0 {
		t.Fatalf("after the rebuild, %d stale", len(stale))
	}

	// Back to the first format, and a model from before formats were
	// recorded: both are rebuilt, and the result is what a rebuild
	// builds.
	if err := e.db.db.Set(stray, []byte("old"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := e.db.db.Delete(formatKey(NameAudit), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := newEngine(t, e.db, e.log, Builtin(), Config{}).Run(ctx); !errors.Is(err, ErrFormat) {
		t.Fatalf("running over a model with no format recorded: %v; want ErrFormat", err)
	}
	catchUp(t, e.db, e.log, Builtin(), Config{})
	assertSameModels(t, want, e.db)

	// A new database: New records the formats.
	fresh := openDB(t, filepath.Join(e.dir, "fresh"))
	defer fresh.Close()
	newEngine(t, fresh, e.log, Builtin(), Config{})
	if v, ok, err := fresh.Format(NameAudit); err != nil || !ok || v != (auditProjection{}).Version() {
		t.Fatalf("a new database's format: %d, %v, %v", v, ok, err)
	}
}

// A model of activity's format 3 kept viewings under 'A' 's': the
// engine sees the format, and CatchUp rebuilds it into the layout of
// this build (viewings under 'A' 'v') before anything reads it.
func TestViewingsOfFormat3AreRebuilt(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	loadLog(t, e.log, genHistory(7, 5, 2, 2000), 4)
	catchUp(t, e.db, e.log, Builtin(), Config{})
	count := func() int {
		n := 0
		err := e.db.Viewings(ctx, 1, time.Time{}, time.Time{}, func(Viewing) error { n++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := count()
	if want == 0 {
		t.Fatal("the history has no viewings of video 1")
	}

	// What format 3 stored: the viewings under 's', and its version.
	b := e.db.db.NewBatch()
	lo := newKey(nsActivity, 'v')
	iter, err := e.db.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: upper(lo)})
	if err != nil {
		t.Fatal(err)
	}
	for iter.First(); iter.Valid(); iter.Next() {
		old := append([]byte{nsActivity, 's'}, iter.Key()[2:]...)
		if err := errors.Join(b.Set(old, iter.Value(), nil), b.Delete(iter.Key(), nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(iter.Close(), b.Set(formatKey(NameActivity), encodeFormat(3), nil), b.Commit(pebble.Sync)); err != nil {
		t.Fatal(err)
	}
	if count() != 0 {
		t.Fatal("format 3's viewings are read as this build's")
	}

	if stale := newEngine(t, e.db, e.log, Builtin(), Config{}).stale; len(stale) != 1 || stale[0].Name() != NameActivity {
		t.Fatalf("stale over activity of format 3: %v; want activity", stale)
	}
	catchUp(t, e.db, e.log, Builtin(), Config{})
	if got := count(); got != want {
		t.Fatalf("after the rebuild, %d viewings of video 1; want %d", got, want)
	}
	old := []byte{nsActivity, 's'}
	iter, err = e.db.db.NewIter(&pebble.IterOptions{LowerBound: old, UpperBound: upper(old)})
	if err != nil {
		t.Fatal(err)
	}
	defer iter.Close()
	if iter.First() {
		t.Fatalf("format 3's record %x kept after the rebuild", iter.Key())
	}
}
