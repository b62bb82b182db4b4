package projections

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// nextFormat is a projection that writes its records in a format one
// version later than p's.
type nextFormat struct{ Projection }

func (n nextFormat) Version() uint32 { return n.Projection.Version() + 1 }

// A model stored in another format, or before formats were recorded, is
// rebuilt by CatchUp, and a Runner refuses it until then; a new one gets
// its format recorded.
func TestFormatChangeRebuilds(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	loadLog(t, e.log, genHistory(5, 5, 3, 2000), 4)
	if _, err := CatchUp(ctx, e.db, e.log, Builtin(), BatchOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range Builtin() {
		if v, ok, err := e.db.Format(p.Name()); err != nil || !ok || v != p.Version() {
			t.Fatalf("%s: format %d, %v, %v; want %d", p.Name(), v, ok, err, p.Version())
		}
	}
	want := openDB(t, filepath.Join(e.dir, "reference"))
	defer want.Close()
	if _, err := Rebuild(ctx, want, e.log, Builtin(), BatchOptions{}, nil); err != nil {
		t.Fatal(err)
	}

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
	if _, err := CatchUp(ctx, e.db, e.log, Builtin(), BatchOptions{}, nil); err != nil || !has() {
		t.Fatalf("a catch-up in the same format dropped the model (%v)", err)
	}

	ps := Builtin()
	ps[2] = nextFormat{ps[2]}
	if ps[2].Name() != NameActivity {
		t.Fatal("Builtin changed order")
	}
	if _, err := NewRunner(e.db, e.log, ps, RunnerConfig{}, nil); !errors.Is(err, ErrFormat) {
		t.Fatalf("a Runner over a model in another format: %v; want ErrFormat", err)
	}
	res, err := CatchUp(ctx, e.db, e.log, ps, BatchOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if has() || res.Events != headOf(t, e.log) {
		t.Fatalf("after a format change, CatchUp read %d events (head %d), stray record kept: %v", res.Events, headOf(t, e.log), has())
	}
	if v, _, _ := e.db.Format(NameActivity); v != ps[2].Version() {
		t.Fatalf("activity's format is %d after the rebuild; want %d", v, ps[2].Version())
	}
	if _, err := NewRunner(e.db, e.log, ps, RunnerConfig{}, nil); err != nil {
		t.Fatalf("a Runner after the rebuild: %v", err)
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
	if _, err := NewRunner(e.db, e.log, Builtin(), RunnerConfig{}, nil); !errors.Is(err, ErrFormat) {
		t.Fatalf("a Runner over a model with no format recorded: %v; want ErrFormat", err)
	}
	if _, err := CatchUp(ctx, e.db, e.log, Builtin(), BatchOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	assertSameModels(t, want, e.db)

	// A new database: the Runner records the formats.
	fresh := openDB(t, filepath.Join(e.dir, "fresh"))
	defer fresh.Close()
	if _, err := NewRunner(fresh, e.log, Builtin(), RunnerConfig{}, nil); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := fresh.Format(NameVideos); err != nil || !ok || v != 1 {
		t.Fatalf("a new database's format: %d, %v, %v", v, ok, err)
	}
}
