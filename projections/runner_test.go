package projections

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

func TestRunnerMatchesReferenceFold(t *testing.T) {
	e := newEnv(t)
	loadLog(t, e.log, genHistory(1, 5, 3, 3000), 3)
	r, _ := startRunner(t, e.db, e.log, Builtin(), Config{})
	waitFor(t, r, headOf(t, e.log))
	checkAgainstReference(t, e.db, referenceFold(t, e.log))

	// Live events arriving after the catch-up are applied too.
	loadLog(t, e.log, genHistory(2, 5, 3, 500)[8:], 1) // skip its users and videos
	waitFor(t, r, headOf(t, e.log))
	checkAgainstReference(t, e.db, referenceFold(t, e.log))
}

// The watermill path (a message per batch) and the batched rebuild run
// the same loop: the models they build are identical, byte for
// byte.
func TestRebuildEqualsRunner(t *testing.T) {
	e := newEnv(t)
	loadLog(t, e.log, genHistory(3, 6, 4, 4000), 2)
	r, stop := startRunner(t, e.db, e.log, Builtin(), Config{})
	waitFor(t, r, headOf(t, e.log))
	stop()

	other := openDB(t, filepath.Join(e.dir, "rebuilt"))
	defer other.Close()
	var progress []uint64
	res := rebuild(t, other, e.log, Builtin(), Config{BatchEvents: 500, PageEvents: 300,
		Progress: func(done, head uint64) { progress = append(progress, done) }})
	if res.Events != headOf(t, e.log) || len(progress) < 5 || progress[len(progress)-1] != res.Head {
		t.Fatalf("rebuild read %d events with progress %v; head %d", res.Events, progress, res.Head)
	}
	assertSameModels(t, e.db, other)

	// Rebuilding one projection of a built database changes nothing.
	rebuild(t, other, e.log, []Projection{activityProjection{}}, Config{})
	assertSameModels(t, e.db, other)
}

// assertSameModels compares every key and value of two read-model
// databases.
func assertSameModels(tb testing.TB, a, b *DB) {
	tb.Helper()
	dump := func(d *DB) ([][2][]byte, error) {
		it, err := d.db.NewIter(&pebble.IterOptions{})
		if err != nil {
			return nil, err
		}
		defer it.Close()
		var out [][2][]byte
		for ok := it.First(); ok; ok = it.Next() {
			out = append(out, [2][]byte{append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...)})
		}
		return out, it.Error()
	}
	x, err := dump(a)
	if err != nil {
		tb.Fatal(err)
	}
	y, err := dump(b)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range min(len(x), len(y)) {
		if !bytes.Equal(x[i][0], y[i][0]) || !bytes.Equal(x[i][1], y[i][1]) {
			tb.Fatalf("record %d differs:\n%q = %x\n%q = %x", i, x[i][0], x[i][1], y[i][0], y[i][1])
		}
	}
	if len(x) != len(y) {
		tb.Fatalf("%d records, and %d", len(x), len(y))
	}
	if len(x) == 0 {
		tb.Fatal("no records")
	}
}
