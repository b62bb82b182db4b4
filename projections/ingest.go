package projections

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"unsafe"

	"github.com/cockroachdb/pebble/v2/sstable"
)

// tableCommitter commits the batches of a rebuild as sorted tables that
// pebble ingests, instead of through its memtable: a rebuild writes its
// projections' records into ranges it has just cleared, so the tables of
// its first batch go straight to the bottom of the tree, with nothing to
// merge them with, and no memtable insert, flush or compaction costs
// anything. One batch is usually the whole rebuild (see
// BatchOptions.MemoryBytes); a later batch's tables overlap the earlier
// ones and land above them, which is still correct.
//
// While the batch applies, its Puts are sealed every few thousand events
// and sorted by a goroutine of the committer's, on the core the apply
// loop leaves. At commit, the sorted logs, the changed records and the
// checkpoints of every projection are merged into one sorted sequence,
// cut into tables (tablesPerCore per core), written in parallel and
// ingested together, atomically: a crash leaves all of a batch or none
// of it.
//
// The logs of a batch are allocated in a bulk of the committer's, which
// it releases once the batch is committed, and at close.
//
// A tableCommitter is used by one goroutine; close stops its sorter.
type tableCommitter struct {
	db       *DB
	mem      *bulk // the batch under way's
	sorts    chan *putLog
	sorting  sync.WaitGroup // logs sealed and not yet sorted
	sorterUp sync.WaitGroup
}

// newTableCommitter starts a committer of the states' batches: their
// Writers allocate their logs from its bulk from now on.
func newTableCommitter(db *DB, states []*batchState) *tableCommitter {
	c := &tableCommitter{db: db, mem: new(bulk), sorts: make(chan *putLog, 64)}
	for _, st := range states {
		st.w.useBulk(c.mem)
	}
	c.sorterUp.Go(func() {
		var scratch sortScratch // the sorter's, for each log in turn
		for p := range c.sorts {
			p.sort(&scratch)
			if p.sorted != nil {
				close(p.sorted)
			}
			c.sorting.Done()
		}
	})
	return c
}

// seal has the states' writers seal what they accepted since the last
// seal, for the sorter (see Writer.seal).
func (c *tableCommitter) seal(states []*batchState) {
	for _, st := range states {
		st.w.seal(c.sort)
	}
}

// sort has the sorter sort p.
func (c *tableCommitter) sort(p *putLog) {
	c.sorting.Add(1)
	c.sorts <- p
}

func (c *tableCommitter) commit(states []*batchState) error {
	c.seal(states)
	c.sorting.Wait()
	var runs []run
	var cps []kv
	for _, st := range states {
		if !st.dirty {
			continue
		}
		// Of the records Set, the later runs hold the later values.
		for _, p := range st.w.sealed() {
			runs = append(runs, putsRun(p))
		}
		prev, cur := st.w.sortedSets()
		runs = append(runs, setsRun(prev), setsRun(cur))
		cps = append(cps, kv{k: checkpointKey(st.p.Name()), v: encodeCheckpoint(st.cp)})
	}
	if len(cps) == 0 {
		return nil
	}
	slices.SortFunc(cps, func(x, y kv) int { return bytes.Compare(x.k, y.k) })
	// The partitions of a projection have one checkpoint, as they have
	// applied the same events.
	cps = slices.CompactFunc(cps, func(x, y kv) bool { return bytes.Equal(x.k, y.k) })
	runs = append(runs, kvRun(cps))
	if err := c.ingest(runs); err != nil {
		return &Error{Op: "commit", Err: errors.Join(ErrStorage, err)}
	}
	for _, st := range states {
		if st.dirty {
			st.w.committed()
			st.w.trim(nil)
			st.dirty = false
		}
	}
	// Every log of the batch is sealed (above) and committed: the next
	// batch's go into a new bulk.
	done := c.mem
	c.mem = new(bulk)
	for _, st := range states {
		st.w.useBulk(c.mem)
	}
	done.release()
	return nil
}

// pendingBytes is about how much memory the batch under way holds: its
// logs and the states' caches.
func (c *tableCommitter) pendingBytes(states []*batchState) int {
	n := c.mem.bytesHeld()
	for _, st := range states {
		n += st.w.cacheBytes()
	}
	return n
}

func (c *tableCommitter) wait() error { return nil }

// close stops the sorter and releases the bulk: the states' Writers
// must not be used after it.
func (c *tableCommitter) close() {
	close(c.sorts)
	c.sorterUp.Wait()
	c.mem.release()
}

// tablesPerCore is how many tables a commit cuts its records into per
// core, all written at once. More tables than cores balance the cores'
// work, which the cut by bytes does not (keys of one kind cost more to
// write than another's), and keep both busy while a table's writes wait
// on the disk (O_DIRECT, see tableFile). On two cores, the tables of a
// million events took 0.56–0.67 s to write in eight, against 0.66–0.97 s
// in two.
const tablesPerCore = 4

// minTablePiece is the fewest records worth a table (and a goroutine) of
// their own.
var minTablePiece = 1 << 16 // a variable for tests

// cutSampling is how many bytes of a run one key of the sample that
// places the cuts between tables stands for.
const cutSampling = 16 << 10

// ingest writes the merged runs as tables and ingests them.
func (c *tableCommitter) ingest(runs []run) error {
	// Cut the sequence into pieces of about as many bytes, from a sample
	// of every run's keys, one every cutSampling bytes, and before the
	// checkpoints: a rebuild deleted them in the memtable, and a table
	// that overlaps the memtable lands at the top of the tree, to be
	// compacted down again.
	total := 0
	var sample [][]byte
	for _, r := range runs {
		total += r.n
		since := cutSampling // bytes since the last key sampled: the first is
		for i := range r.n {
			k := r.key(i)
			v, _ := r.value(i)
			if since += len(k) + len(v); since >= cutSampling {
				sample = append(sample, k)
				since = 0
			}
		}
	}
	slices.SortFunc(sample, bytes.Compare)
	pieces := max(1, min(tablesPerCore*runtime.GOMAXPROCS(0), total/minTablePiece))
	cuts := [][]byte{{nsCheckpoint}}
	for j := 1; j < pieces; j++ {
		cuts = append(cuts, sample[j*len(sample)/pieces])
	}
	slices.SortFunc(cuts, bytes.Compare)
	cuts = slices.CompactFunc(cuts, bytes.Equal)
	bounds := append(append([][]byte{nil}, cuts...), nil) // nil: unbounded
	pieces = len(bounds) - 1
	dir, err := os.MkdirTemp(c.db.dir, "ingest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir) // pebble links the tables it ingests
	opts := c.db.opts.MakeWriterOptions(0, c.db.db.TableFormat())
	// The tables are for the last level (see tableCommitter): no filter,
	// as there (see Open).
	opts.FilterPolicy = nil
	paths := make([]string, pieces)
	errs := make([]error, pieces)
	var wg sync.WaitGroup
	for j := range pieces {
		var parts []runPart
		for x, r := range runs {
			p := runPart{r: r, seq: x, i: r.search(bounds[j]), end: r.n}
			if bounds[j+1] != nil {
				p.end = r.search(bounds[j+1])
			}
			if p.i < p.end {
				parts = append(parts, p)
			}
		}
		if len(parts) == 0 {
			continue
		}
		paths[j] = filepath.Join(dir, fmt.Sprintf("%06d.sst", j))
		wg.Go(func() { errs[j] = writeTable(paths[j], opts, parts) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	paths = slices.DeleteFunc(paths, func(p string) bool { return p == "" })
	return c.db.db.Ingest(context.Background(), paths)
}

// writeTable writes the merge of parts as a table at path.
func writeTable(path string, opts sstable.WriterOptions, parts []runPart) error {
	f, err := createTableFile(path)
	if err != nil {
		return err
	}
	w := sstable.NewWriter(f, opts)
	err = mergeRuns(parts, func(k, v []byte, deleted bool) error {
		if deleted {
			return w.Delete(k)
		}
		return w.Set(k, v)
	})
	return errors.Join(err, w.Close())
}

// mergeRuns calls fn with the records of parts in key order. Of records
// with one key in several runs, only the one of the latest run (the
// highest seq) is taken: a Put logged after another.
//
// The parts are kept in a binary heap by their next record, sifted with
// direct comparisons (container/heap calls them through an interface). A
// heap, not a tree of losers: the part that gave a record often gives
// the next one too (the audit's runs follow one another, and a video's
// timeline entries are consecutive), and a heap's sift then stops after
// one level, where a tree of losers plays every level.
func mergeRuns(parts []runPart, fn func(k, v []byte, deleted bool) error) error {
	h := make(mergeHeap, 0, len(parts))
	for x := range parts {
		p := &parts[x]
		if p.at(p.i); p.i < p.end {
			h = append(h, p)
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	var last []byte
	for len(h) > 0 {
		p := h[0]
		if last == nil || !bytes.Equal(p.k, last) {
			v, ok := p.r.value(p.i)
			if err := fn(p.k, v, !ok); err != nil {
				return err
			}
			last = p.k
		}
		if p.at(p.i + 1); p.i >= p.end {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		h.down(0)
	}
	return nil
}

// mergeHeap orders parts by their next key, the latest run first of
// those at one key.
type mergeHeap []*runPart

func (h mergeHeap) before(x, y *runPart) bool {
	if c := compareKeys(x.pre, x.k, y.pre, y.k); c != 0 {
		return c < 0
	}
	return x.seq > y.seq
}

// down sifts the part at i down to its place.
func (h mergeHeap) down(i int) {
	for {
		j := 2*i + 1
		if j >= len(h) {
			return
		}
		if r := j + 1; r < len(h) && h.before(h[r], h[j]) {
			j = r
		}
		if !h.before(h[j], h[i]) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// run is a sequence of records sorted by key, each key once: value
// reports false for a deletion.
type run struct {
	n     int
	key   func(i int) []byte
	value func(i int) ([]byte, bool)
}

// search returns the index of the first key at or after lo (nil: 0).
func (r run) search(lo []byte) int {
	if lo == nil {
		return 0
	}
	return sort.Search(r.n, func(i int) bool { return bytes.Compare(r.key(i), lo) >= 0 })
}

// runPart is the records [i, end) of a run, the seq-th of a merge; k is
// the key at i.
type runPart struct {
	r      run
	seq    int
	i, end int
	k      []byte
	pre    keyPrefix // of k
}

// at makes the i-th record the part's next.
func (p *runPart) at(i int) {
	p.i = i
	if i < p.end {
		p.k = p.r.key(i)
		p.pre = prefixOf(p.k)
	}
}

// putsRun is a sorted putLog.
func putsRun(p *putLog) run {
	return run{
		n:     len(p.log),
		key:   p.key,
		value: func(i int) ([]byte, bool) { v := p.value(i); return v, v != nil },
	}
}

// setsRun is a Writer's changed records, sorted.
func setsRun(cs []*cached) run {
	return run{
		n:     len(cs),
		key:   func(i int) []byte { return unsafe.Slice(unsafe.StringData(cs[i].key), len(cs[i].key)) },
		value: func(i int) ([]byte, bool) { return cs[i].v, cs[i].v != nil },
	}
}

type kv struct{ k, v []byte }

// kvRun is records sorted by key.
func kvRun(kvs []kv) run {
	return run{
		n:     len(kvs),
		key:   func(i int) []byte { return kvs[i].k },
		value: func(i int) ([]byte, bool) { return kvs[i].v, true },
	}
}
