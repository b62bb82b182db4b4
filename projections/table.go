package projections

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// table collects the writes of a batch to be written as one sorted table
// and ingested, instead of committed through the memtable: a rebuild
// writes into ranges it has just cleared, where the memtable, its
// flushes and their compactions would only add work (see
// docs/BENCHMARKS.md for what it gains).
type table struct {
	chunk  []byte   // where records are copied, a chunk at a time
	chunks [][]byte // every chunk, kept for the next batch
	used   int      // how many of chunks this batch has used
	recs   []tableRec
}

type tableRec struct {
	k, v []byte
	seq  int // the order written: of two writes of a key, the later wins
	del  bool
}

// tableChunk is how much memory records are copied into at a time: one
// growing slice would be copied again and again.
const tableChunk = 1 << 20

func (t *table) add(k, v []byte, del bool) {
	n := len(k) + len(v)
	if cap(t.chunk)-len(t.chunk) < n {
		t.chunk = t.next(n)
	}
	at := len(t.chunk)
	t.chunk = append(append(t.chunk, k...), v...)
	r := t.chunk[at:len(t.chunk):len(t.chunk)]
	t.recs = append(t.recs, tableRec{k: r[:len(k):len(k)], v: r[len(k):], seq: len(t.recs), del: del})
}

// next returns an empty chunk with room for n bytes: one of a batch
// before if it has it, so that a rebuild copies its records into the
// same memory batch after batch rather than leaving it to the garbage
// collector.
func (t *table) next(n int) []byte {
	if t.used < len(t.chunks) && cap(t.chunks[t.used]) >= n {
		t.used++
		return t.chunks[t.used-1][:0]
	}
	c := make([]byte, 0, max(tableChunk, n))
	if t.used < len(t.chunks) {
		t.chunks[t.used] = c
	} else {
		t.chunks = append(t.chunks, c)
	}
	t.used++
	return c
}

// reset empties t for the next batch, keeping its memory.
func (t *table) reset() {
	t.chunk, t.recs, t.used = nil, t.recs[:0], 0
}

// ingestFile is the name of the table a rebuild writes to be ingested.
const ingestFile = "ingest.sst"

// ingest writes t's records, sorted by key, the last write of a key
// winning, to a table file in the database's directory, and has pebble
// ingest it: atomically, like a batch.
func (d *DB) ingest(t *table) error {
	if len(t.recs) == 0 {
		return nil
	}
	slices.SortFunc(t.recs, func(a, b tableRec) int { return cmp.Or(bytes.Compare(a.k, b.k), cmp.Compare(a.seq, b.seq)) })
	path := filepath.Join(d.dir, ingestFile)
	f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return errors.Join(ErrStorage, err)
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), d.opts.MakeWriterOptions(0, d.db.TableFormat()))
	for i, r := range t.recs {
		if i+1 < len(t.recs) && bytes.Equal(r.k, t.recs[i+1].k) {
			continue // a later write of the same key follows
		}
		if r.del {
			err = w.Delete(r.k)
		} else {
			err = w.Set(r.k, r.v)
		}
		if err != nil {
			break
		}
	}
	err = errors.Join(err, w.Close())
	if err == nil {
		err = d.db.Ingest(context.Background(), []string{path})
	}
	if err != nil {
		os.Remove(path)
		return &Error{Op: "ingest", Err: fmt.Errorf("%w: %w", ErrStorage, err)}
	}
	return nil
}

// behind is a batch's table being ingested by another goroutine while
// the loop applies the next batch: the second core writes and ingests
// while the first applies. At most one is in flight; the loop waits for
// it before it commits again, reads the database, or returns.
type behind struct {
	done   chan error // receives the ingest's outcome; nil when none is in flight
	flying *table     // the table being ingested
	pos    uint64     // its batch's last event
	spare  *table     // the table before, emptied, to fill next
}

// ingestBehind starts ingesting b's table, and gives b another.
func (e *Engine) ingestBehind(b *batch, c commitment) {
	t := b.w.tab
	if b.spare == nil {
		b.spare = new(table)
	}
	b.w.tab, b.spare = b.spare, nil
	done := make(chan error, 1)
	b.done, b.flying, b.pos = done, t, c.pos
	go func() {
		err := e.db.ingest(t)
		if err == nil {
			e.committed(c)
		}
		done <- err
	}()
}

// wait waits for the ingest in flight, if any, and returns its error;
// on success it reports the progress.
func (b *batch) wait() error {
	if b.done == nil {
		return nil
	}
	err := <-b.done
	b.done = nil
	b.flying.reset()
	b.spare, b.flying = b.flying, nil
	if err == nil && b.progress != nil {
		b.progress(b.pos)
	}
	return err
}
