package projections

// commit commits the batch's writes with every projection's checkpoint,
// and starts a new batch.
func (e *Engine) commit(b *batch) error {
	if b.events == 0 {
		return nil
	}
	if err := b.w.flush(); err != nil {
		return e.commitFailed(b, err)
	}
	c := commitment{events: b.events, pos: b.last.Position}
	for _, st := range e.states {
		if st.next.Position > st.cp.Load() {
			c.moved = append(c.moved, moved{st, st.next})
			if err := b.w.write(checkpointKey(st.p.Name()), encodeCheckpoint(st.next), false); err != nil {
				return e.commitFailed(b, err)
			}
		}
	}
	if err := e.db.commit(b.w.batch, e.cfg.Sync); err != nil {
		return e.commitFailed(b, err)
	}
	e.committed(c)
	if b.progress != nil {
		b.progress(c.pos)
	}
	b.w.batch.Close()
	b.w.reset(e.db.db.NewBatch())
	b.events = 0
	return nil
}

// commitment is what a batch's commit makes true once it succeeds.
type commitment struct {
	moved  []moved
	events int
	pos    uint64 // the batch's last event
}

// moved is a projection whose checkpoint a batch moves, and where to.
type moved struct {
	st *state
	cp Checkpoint
}

// committed records c: the checkpoints it moved are committed, and no
// projection is failing.
func (e *Engine) committed(c commitment) {
	for _, m := range c.moved {
		m.st.cp.Store(m.cp.Position)
		m.st.cpAt.Store(int64(timeKey(m.cp.RecordedAt)))
		m.st.applied.Add(uint64(c.events)) // events seen, including those it ignores
	}
	for _, st := range e.states {
		if st.failing.Swap(nil) != nil {
			e.logger.Info("projection writes again", "projection", st.p.Name())
		}
	}
	e.mu.Lock()
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
}

// commitFailed abandons the batch: every projection is failing until a
// commit succeeds.
func (e *Engine) commitFailed(b *batch, err error) error {
	e.abandon(b)
	e.setFailing(err)
	return err
}

// abandon drops what was applied since the last commit.
func (e *Engine) abandon(b *batch) {
	b.w.batch.Close()
	b.w.reset(e.db.db.NewBatch())
	b.events = 0
	e.rewind()
}

// rewind sets every projection's next checkpoint to its committed one.
func (e *Engine) rewind() {
	for _, st := range e.states {
		st.next = Checkpoint{Position: st.cp.Load(), RecordedAt: keyTime(uint64(st.cpAt.Load()))}
	}
}

// setFailing marks every running projection as failing with err, logged
// once per failure.
func (e *Engine) setFailing(err error) {
	for _, st := range e.states {
		if st.stopped.Load() != nil {
			continue
		}
		if st.failing.Swap(&err) == nil {
			e.logger.Error("projection cannot write its read model; retrying", "projection", st.p.Name(), "err", err)
		}
	}
}
