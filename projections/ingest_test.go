package projections

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// small makes a rebuild seal its Puts every 97 events, make room in its
// caches at 16 records and rotate them past 32 (sealing the records
// changed in the generation it drops, which Get then reads back from the
// sealed logs), cut a batch into tables of a few hundred records, and
// apply the activity projection in three partitions, for the test's
// duration.
func small(t *testing.T) {
	oldSeal, oldCached, oldReserve, oldPiece, oldParts := sealEvents, maxCached, reserveFrom, minTablePiece, batchPartitions
	sealEvents, maxCached, reserveFrom, minTablePiece = 97, 64, 16, 300
	batchPartitions = func() int { return 3 }
	t.Cleanup(func() {
		sealEvents, maxCached, reserveFrom, minTablePiece, batchPartitions = oldSeal, oldCached, oldReserve, oldPiece, oldParts
	})
}

// A rebuild that seals its writes in many sorted logs, reads records back
// from them, and ingests one batch or many, builds the same models as the
// runner, byte for byte; the tables of a single batch go to the bottom of
// the tree, with nothing to compact.
func TestRebuildThroughTablesEqualsRunner(t *testing.T) {
	small(t)
	e := newEnv(t)
	loadLog(t, e.log, genHistory(5, 8, 4, 6000), 3)
	r, stop := startRunner(t, e.db, e.log, Builtin(), RunnerConfig{})
	waitFor(t, r, headOf(t, e.log))
	stop()

	for _, tc := range []struct {
		name string
		opts BatchOptions
		one  bool
		heap bool // bulks on the heap, as where mapping is refused
	}{
		{"one batch", BatchOptions{}, true, false},
		{"a batch per seal", BatchOptions{MemoryBytes: 1}, false, false},
		{"batches of 1000 events", BatchOptions{BatchEvents: 1000}, false, false},
		{"one batch, bulks on the heap", BatchOptions{}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.heap {
				bulkOnHeap = true
				t.Cleanup(func() { bulkOnHeap = false })
			}
			db := openDB(t, filepath.Join(t.TempDir(), "rm"))
			defer db.Close()
			res, err := Rebuild(context.Background(), db, e.log, Builtin(), tc.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Events != headOf(t, e.log) {
				t.Fatalf("rebuilt %d events of %d", res.Events, headOf(t, e.log))
			}
			assertSameModels(t, e.db, db)
			m := db.db.Metrics()
			if tc.one && (m.Levels[6].TablesCount < 3 || m.Levels[0].TablesCount != 0 || m.Compact.Count != 0) {
				t.Fatalf("one batch left %d tables in L0 and %d in L6, after %d compactions; want none, several and none",
					m.Levels[0].TablesCount, m.Levels[6].TablesCount, m.Compact.Count)
			}
			// pebble reads no filter of the last level: the tables written
			// for it have none. (A table moved down whole keeps its own.)
			levels, err := db.db.SSTables(pebble.WithProperties())
			if err != nil {
				t.Fatal(err)
			}
			for _, table := range levels[6] {
				if !tc.one {
					break
				}
				if name := table.Properties.FilterPolicyName; name != "" {
					t.Fatalf("table %s in L6 has a %s filter", table.FileNum, name)
				}
			}
			// The tables were linked in: nothing is left beside them.
			entries, err := os.ReadDir(db.dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, en := range entries {
				if en.IsDir() {
					t.Fatalf("%s left in the database's directory", en.Name())
				}
			}
		})
	}
}

// Rebuilding one projection of built models, through tables that land
// on top of the others', changes nothing.
func TestRebuildOneProjectionThroughTables(t *testing.T) {
	small(t)
	e := newEnv(t)
	loadLog(t, e.log, genHistory(6, 6, 3, 3000), 2)
	if _, err := Rebuild(context.Background(), e.db, e.log, Builtin(), BatchOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	other := openDB(t, filepath.Join(e.dir, "other"))
	defer other.Close()
	if _, err := Rebuild(context.Background(), other, e.log, Builtin(), BatchOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range Builtin() {
		if _, err := Rebuild(context.Background(), e.db, e.log, []Projection{p}, BatchOptions{MemoryBytes: 1}, nil); err != nil {
			t.Fatal(fmt.Errorf("%s: %w", p.Name(), err))
		}
		assertSameModels(t, other, e.db)
	}
	if err := e.db.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	assertSameModels(t, other, e.db)
}

// Of one key in several sealed logs, the latest is written; a deletion
// is written as one.
func TestMergeRunsLatestWins(t *testing.T) {
	var a, b, c putLog
	a.add([]byte("k1"), []byte("a1"))
	a.add([]byte("k3"), []byte("a3"))
	a.add([]byte("k2"), []byte("a2"))
	b.add([]byte("k2"), []byte("b2"))
	b.addRecord([]byte("k3"), nil, true)
	c.add([]byte("k0"), []byte("c0"))
	c.add([]byte("k2"), []byte("c2-old"))
	c.add([]byte("k2"), []byte("c2")) // the later of two in one log
	for _, p := range []*putLog{&a, &b, &c} {
		p.sort(nil)
	}
	var parts []runPart
	for i, p := range []*putLog{&a, &b, &c} {
		r := putsRun(p)
		parts = append(parts, runPart{r: r, seq: i, end: r.n})
	}
	var got []string
	err := mergeRuns(parts, func(k, v []byte, deleted bool) error {
		if deleted {
			got = append(got, string(k)+" deleted")
		} else {
			got = append(got, string(k)+"="+string(v))
		}
		return nil
	})
	want := []string{"k0=c0", "k1=a1", "k2=c2", "k3 deleted"}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("merged %v (%v); want %v", got, err, want)
	}
	if v, ok := b.find([]byte("k3")); !ok || v != nil {
		t.Fatalf("find of a deleted key: %q, %v", v, ok)
	}
	if _, ok := b.find([]byte("k9")); ok {
		t.Fatal("found a key never logged")
	}
}

// An event a projection fails to apply leaves none of its writes: not
// its Sets, and not its Puts, which go straight into the Writer's log.
func TestFailedApplyLeavesNoPuts(t *testing.T) {
	small(t)
	e := newEnv(t)
	loadLog(t, e.log, genHistory(7, 5, 3, 2500), 2)
	bad := func(pos uint64) bool { return pos%41 == 0 }
	failing := func() []Projection {
		ps := Builtin()
		ps[2] = &flaky{Projection: ps[2], fail: func(pos uint64, _ int) error {
			if bad(pos) {
				return errors.New("injected after the writes")
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
	res, err := Rebuild(context.Background(), e.db, e.log, failing(), BatchOptions{}, nil)
	if err != nil || res.Poisoned[NameActivity] == 0 {
		t.Fatalf("rebuild: %+v, %v", res, err)
	}
	check(e.db)

	db := openDB(t, filepath.Join(e.dir, "runner"))
	defer db.Close()
	r, stop := startRunner(t, db, e.log, failing(), fastRetries)
	waitFor(t, r, headOf(t, e.log))
	stop()
	check(db)
}

// Tables a rebuild was writing when it died are removed when the read
// models are next opened.
func TestOpenRemovesStaleTables(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	db.Close()
	stale := filepath.Join(dir, "ingest-123")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "000000.sst"), []byte("half a table"), 0o644); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir)
	defer db.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("%s is still there (%v)", stale, err)
	}
}

// The merge of many runs, some empty, with keys in several of them, is
// the latest record of each key, in key order, for any number of runs.
func TestMergeRunsManyRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, k := range []int{1, 2, 3, 5, 8, 37, 200} {
		logs := make([]*putLog, k)
		want := map[string]string{} // key -> value of the latest run, "" deleted
		for x := range logs {
			p := &putLog{}
			for range rng.IntN(60) {
				key := fmt.Sprintf("key-%03d", rng.IntN(300))
				if rng.IntN(10) == 0 {
					p.addRecord([]byte(key), nil, true)
					want[key] = ""
				} else {
					v := fmt.Sprintf("v%d-%d", x, rng.IntN(1000))
					p.add([]byte(key), []byte(v))
					want[key] = v
				}
			}
			p.sort(nil)
			logs[x] = p
		}
		var parts []runPart
		for x, p := range logs {
			r := putsRun(p)
			parts = append(parts, runPart{r: r, seq: x, end: r.n})
		}
		var got []string
		err := mergeRuns(parts, func(k, v []byte, deleted bool) error {
			if deleted {
				v = nil
			}
			got = append(got, string(k)+"="+string(v))
			return nil
		})
		var keys []string
		for key := range want {
			keys = append(keys, key)
		}
		slices.Sort(keys)
		var exp []string
		for _, key := range keys {
			exp = append(exp, key+"="+want[key])
		}
		if err != nil || !slices.Equal(got, exp) {
			t.Fatalf("%d runs: merged %d records %v (%v); want %d", k, len(got), got, err, len(exp))
		}
	}
}

// partitionProbe is a partitioned projection that writes nothing and
// notes which of a run's writers applied which event.
type partitionProbe struct {
	mu   sync.Mutex
	seen map[*Writer][]probed
}

type probed struct {
	pos    uint64
	stream string
}

func (*partitionProbe) Name() string    { return "probe" }
func (*partitionProbe) Version() uint32 { return 1 }
func (*partitionProbe) Prefix() byte    { return 'Z' }
func (*partitionProbe) Partition(ev *Event) (uint64, bool) {
	id, ok := ev.streamID("video")
	return uint64(id), ok
}
func (p *partitionProbe) Apply(w *Writer, ev *Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen[w] = append(p.seen[w], probed{ev.Position, strings.Clone(ev.Stream)}) // ev's memory serves again
	return nil
}

// A partitioned projection's partitions apply every event once between
// them, each video's in one partition, and the events of no partition in
// the first.
func TestPartitionsApplyEachEventOnce(t *testing.T) {
	small(t)
	e := newEnv(t)
	loadLog(t, e.log, genHistory(8, 5, 7, 3000), 3)
	probe := &partitionProbe{seen: map[*Writer][]probed{}}
	if _, err := Rebuild(context.Background(), e.db, e.log, []Projection{probe}, BatchOptions{PageSize: 250}, nil); err != nil {
		t.Fatal(err)
	}
	if len(probe.seen) != 3 {
		t.Fatalf("%d writers applied events; want 3 partitions", len(probe.seen))
	}
	applied := map[uint64]int{}
	videoAt := map[int64]*Writer{}
	var noPartition *Writer
	for w, evs := range probe.seen {
		for _, ev := range evs {
			applied[ev.pos]++
			id, ok := refStreamID(ev.stream, "video-")
			switch {
			case !ok && noPartition == nil:
				noPartition = w
			case !ok && noPartition != w:
				t.Fatalf("events of no partition applied by two writers (%s at %d)", ev.stream, ev.pos)
			case ok && videoAt[id] == nil:
				videoAt[id] = w
			case ok && videoAt[id] != w:
				t.Fatalf("video %d applied by two writers", id)
			}
		}
	}
	head := headOf(t, e.log)
	for pos := uint64(1); pos <= head; pos++ {
		if applied[pos] != 1 {
			t.Fatalf("event %d applied %d times", pos, applied[pos])
		}
	}
}
