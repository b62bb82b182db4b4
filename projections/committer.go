package projections

import (
	"errors"

	"github.com/cockroachdb/pebble/v2"
)

// committer commits the batches of a batched run (Rebuild, CatchUp) in
// the background while the next events apply: one batch at a time, in
// order, each with the checkpoints of its last event, so that a crash
// leaves a prefix of them. The background goroutine sorts and writes the
// batch's Puts, which costs; the records Set are copied out of the
// writers' caches before, into a batch of their own that is appended to
// it. Until the batch is committed the caches answer Get for its keys
// (see Writer.trim).
//
// A committer is used by one goroutine; close waits for the batch under
// way.
type committer struct {
	db   *DB
	sync bool

	size     int        // of the last batch: the next is about as large
	puts     []*putLog  // the batch under way's, from Writer.takePuts
	inflight chan error // nil when no commit is under way
}

// commit waits for the batch under way, then starts committing the
// writes of the states that applied events since, with their
// checkpoints.
func (c *committer) commit(states []*batchState) error {
	if err := c.wait(); err != nil { // and the put logs are free again
		return err
	}
	sets := c.db.db.NewBatch()
	c.puts = c.puts[:0]
	var err error
	for _, st := range states {
		if st.dirty {
			c.puts = append(c.puts, st.w.takePuts())
			err = errors.Join(err, st.w.commitSetsTo(sets), sets.Set(checkpointKey(st.p.Name()), encodeCheckpoint(st.cp), nil))
			st.dirty = false
		}
	}
	if err != nil {
		sets.Close()
		return &Error{Op: "commit", Err: errors.Join(ErrStorage, err)}
	}
	for _, st := range states {
		st.w.trim(nil)
	}
	done := make(chan error, 1)
	go func() {
		b := c.db.db.NewBatch(pebble.WithInitialSizeBytes(c.size + c.size/8))
		var err error
		for _, p := range c.puts {
			err = errors.Join(err, p.writeTo(b))
		}
		if err == nil {
			err = b.Apply(sets, nil)
		}
		if err == nil {
			c.size = len(b.Repr())
			err = c.db.commit(b, c.sync)
		}
		b.Close()
		sets.Close()
		done <- err
	}()
	c.inflight = done
	return nil
}

// wait returns once the batch under way, if any, is committed.
func (c *committer) wait() error {
	if c.inflight == nil {
		return nil
	}
	err := <-c.inflight
	c.inflight = nil
	if err != nil {
		return &Error{Op: "commit", Err: errors.Join(ErrStorage, err)}
	}
	return nil
}

// close waits for the batch under way, for a run that ends with an
// error: its result no longer matters.
func (c *committer) close() {
	if c.inflight != nil {
		<-c.inflight
		c.inflight = nil
	}
}
