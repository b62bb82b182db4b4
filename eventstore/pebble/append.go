package pebble

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/videologue/videologue/eventstore"
)

type appendReq struct {
	ctx      context.Context
	stream   string
	expected eventstore.ExpectedRevision
	events   []eventstore.EventData
	result   eventstore.AppendResult
	err      error
	done     chan struct{}
	g        *group // set when applied: the group whose fsync to await
}

// group is the batch of appends being built, or applied to pebble and
// waiting for its fsync.
type group struct {
	batch     *pebble.Batch
	reqs      []*appendReq
	events    int
	chunk     []byte // records of the chunk being built
	chunkN    uint64
	chunkPos  uint64 // position of its first event
	undos     []undo
	index     []indexEntryOf // the stream index entries of its appends
	startPos  uint64
	startHash [32]byte
	now       time.Time
	lastPos   uint64
	pending   atomic.Int32  // appenders still awaiting the fsync
	waiter    atomic.Bool   // an appender is waiting for the fsync
	synced    chan struct{} // closed once it is done; syncErr says how
	syncErr   error
}

// indexEntryOf is an index entry with its stream.
type indexEntryOf struct {
	stream string
	indexEntry
}

type undo struct {
	stream string
	rev    int64
	had    bool
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Err: err}
	}
	if err := s.failure(); err != nil {
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Err: err}
	}
	req := &appendReq{ctx: ctx, stream: stream, expected: expected, events: events, done: make(chan struct{})}
	s.mu.RLock()
	if s.closing {
		s.mu.RUnlock()
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Err: eventstore.ErrClosed}
	}
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		s.mu.RUnlock()
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Err: ctx.Err()}
	}
	s.mu.RUnlock()
	// Once handed over, the outcome is decided within one group commit; we
	// wait for it even if ctx ends, so that "error" always means "not written".
	<-req.done
	if req.err == nil {
		req.err = s.awaitDurable(req)
	}
	if req.err != nil {
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Err: req.err}
	}
	return req.result, nil
}

func (s *Store) failure() error { return s.health.failure() }

// commitLoop is the single writer. It takes every pending append, checks
// and encodes those whose expectations hold into one batch, and applies it
// to pebble without waiting for the fsync: each appender waits for its own
// group's fsync (Append), so that pebble's WAL writer coalesces the fsyncs
// of consecutive groups while the committer already builds the next one.
// The WAL is sequential, so groups become durable in position order.
func (s *Store) commitLoop() {
	for first := range s.reqs {
		// Appenders woken by the last fsync are about to arrive: yield
		// while they keep coming, so that they join this group and its
		// fsync instead of each missing it by a few microseconds.
		for n, idle := len(s.reqs), 0; idle < 2 && n < s.cfg.MaxGroupEvents; {
			runtime.Gosched()
			if m := len(s.reqs); m > n {
				n, idle = m, 0
			} else {
				idle++
			}
		}
		g := s.newGroup()
		s.stage(g, first)
	gather:
		for g.events < s.cfg.MaxGroupEvents {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break gather
				}
				s.stage(g, r)
			default:
				break gather
			}
		}
		if len(g.reqs) == 0 {
			g.batch.Close()
			continue
		}
		if s.apply(g) {
			g.pending.Store(int32(len(g.reqs)))
			s.syncing.Add(len(g.reqs))
			for _, r := range g.reqs {
				r.g = g
				r.finish(nil)
			}
		}
	}
}

func (s *Store) newGroup() *group {
	// The chunk buffer is the committer's: flushChunk copies it into the batch.
	return &group{batch: s.db.NewBatch(), chunk: s.chunk[:0], startPos: s.nextPos, startHash: s.lastHash, now: s.cfg.Now().UTC(), synced: make(chan struct{})}
}

// stage checks r against the committer's view of every stream and encodes
// it into g, or answers it at once when it cannot be written.
func (s *Store) stage(g *group, r *appendReq) {
	if err := s.failure(); err != nil {
		r.finish(err)
		return
	}
	if err := r.ctx.Err(); err != nil {
		r.finish(err)
		return
	}
	cur, err := s.lastRevision(r.stream)
	if err != nil {
		r.finish(err)
		return
	}
	if !r.expected.Check(cur) {
		r.finish(&eventstore.WrongExpectedRevisionError{Stream: r.stream, Expected: r.expected, Actual: cur})
		return
	}
	prev, had := s.revs[r.stream]
	g.undos = append(g.undos, undo{r.stream, prev, had})
	r.result.FirstPosition = s.nextPos
	firstRev := uint64(cur + 1)
	for i := range r.events {
		e := &r.events[i]
		cur++
		ev := eventstore.RecordedEvent{
			ID: e.ID, Type: e.Type, Stream: r.stream, Revision: uint64(cur), Position: s.nextPos,
			RecordedAt: g.now, Data: e.Data, Metadata: e.Metadata,
		}
		if ev.ID == "" {
			ev.ID = eventstore.NewID()
		}
		ev.Hash = s.hasher.Sum(s.lastHash, &ev)
		s.lastHash = ev.Hash
		n := recordLen(&ev)
		if g.chunkN > 0 && len(g.chunk)+binary.MaxVarintLen64+n > chunkTarget {
			g.flushChunk()
		}
		if g.chunkN == 0 {
			g.chunkPos = ev.Position
		}
		g.chunk = binary.AppendUvarint(g.chunk, uint64(n))
		g.chunk = appendRecord(g.chunk, &ev)
		g.chunkN++
		s.nextPos++
	}
	g.index = append(g.index, indexEntryOf{r.stream, indexEntry{firstRev: firstRev, firstPos: r.result.FirstPosition, count: uint64(len(r.events))}})
	s.revs[r.stream] = cur
	g.events += len(r.events)
	r.result.LastPosition = s.nextPos - 1
	r.result.NextExpected = uint64(cur)
	g.reqs = append(g.reqs, r)
}

// flushChunk writes the chunk being built into the batch.
func (g *group) flushChunk() {
	if g.chunkN == 0 {
		return
	}
	var count [binary.MaxVarintLen64]byte
	c := binary.PutUvarint(count[:], g.chunkN)
	op := g.batch.SetDeferred(9, c+len(g.chunk))
	op.Key[0] = prefixEvent
	binary.BigEndian.PutUint64(op.Key[1:], g.chunkPos)
	copy(op.Value, count[:c])
	copy(op.Value[c:], g.chunk)
	_ = op.Finish()
	g.chunk, g.chunkN = g.chunk[:0], 0
}

// writeIndex adds g's stream index entries to its batch in key order,
// after its chunks (whose keys sort first): pebble inserts a batch into
// its memtable one key at a time, and each search starts from where the
// previous key went when the keys ascend.
func (g *group) writeIndex() {
	slices.SortFunc(g.index, func(a, b indexEntryOf) int {
		if c := strings.Compare(a.stream, b.stream); c != 0 {
			return c
		}
		return cmp.Compare(a.firstRev, b.firstRev)
	})
	for _, e := range g.index {
		op := g.batch.SetDeferred(len(e.stream)+10, 8+uvarintLen(e.count))
		op.Key[0] = prefixStream
		copy(op.Key[1:], e.stream)
		op.Key[1+len(e.stream)] = 0
		binary.BigEndian.PutUint64(op.Key[2+len(e.stream):], e.firstRev)
		binary.BigEndian.PutUint64(op.Value, e.firstPos)
		binary.PutUvarint(op.Value[8:], e.count)
		_ = op.Finish()
	}
}

// apply writes g to pebble without waiting for its fsync. On failure it
// answers g's appenders and rolls the committer's view back.
func (s *Store) apply(g *group) bool {
	g.flushChunk()
	s.chunk = g.chunk[:0] // keep the grown buffer for the next group
	g.writeIndex()
	g.lastPos = s.nextPos - 1
	err := s.failure()
	if err == nil {
		err = s.applyBatch(g.batch)
	}
	if err != nil && s.failure() == nil && diskFull(err) {
		s.health.fail(describe(s.health.dir, err))
	}
	if f := s.failure(); err != nil && f != nil {
		err = f
	}
	if err != nil {
		// Nothing of the batch was applied (or the store has failed):
		// roll the committer's view back.
		s.nextPos, s.lastHash = g.startPos, g.startHash
		for i := len(g.undos) - 1; i >= 0; i-- {
			if u := g.undos[i]; u.had {
				s.revs[u.stream] = u.rev
			} else {
				delete(s.revs, u.stream)
			}
		}
		for _, r := range g.reqs {
			r.finish(fmt.Errorf("write: %w", err))
		}
		g.batch.Close()
		return false
	}
	if len(s.revs) > 1<<20 { // bound the cache; lookups refill it
		clear(s.revs)
	}
	return true
}

// awaitDurable waits for the fsync of r's group, then publishes the new
// durable head. A later group's fsync covers every earlier one, so the head
// only ever grows to the highest synced position.
func (s *Store) awaitDurable(r *appendReq) error {
	g := r.g
	defer s.syncing.Done()
	// pebble's Batch.SyncWait is not safe for concurrent callers: the
	// group's first appender waits and publishes, then wakes all the
	// others at once (a sync.Once would hand its mutex from one waiter to
	// the next, waking them one by one).
	if g.waiter.CompareAndSwap(false, true) {
		g.syncErr = g.batch.SyncWait()
		if g.syncErr != nil {
			// The log on disk may now end anywhere in this group; only a
			// reopen can tell. Fail the store rather than guess.
			s.health.fail(describe(s.health.dir, g.syncErr))
		} else {
			s.publish(g.lastPos)
		}
		close(g.synced)
	} else {
		<-g.synced
	}
	err := g.syncErr
	if g.pending.Add(-1) == 0 {
		g.batch.Close()
	}
	if err != nil {
		if f := s.failure(); f != nil {
			return f
		}
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

func (s *Store) publish(pos uint64) {
	for {
		cur := s.durable.Load()
		if pos <= cur {
			return
		}
		if s.durable.CompareAndSwap(cur, pos) {
			s.signal.Advance(pos)
			return
		}
	}
}

// applyBatch hands b to pebble. pebble panics when its commit pipeline
// breaks (a write-ahead log that the disk refused): that fails the store
// instead of the process.
func (s *Store) applyBatch(b *pebble.Batch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = describe(s.health.dir, fmt.Errorf("%v", r))
			s.health.fail(err)
		}
	}()
	return s.db.ApplyNoSyncWait(b, pebble.Sync)
}

func (r *appendReq) finish(err error) {
	r.err = err
	close(r.done)
}

// lastRevision returns the stream's last revision, -1 if none, from the
// committer's cache or the index.
func (s *Store) lastRevision(stream string) (int64, error) {
	if rev, ok := s.revs[stream]; ok {
		return rev, nil
	}
	e, ok, err := s.lastIndexEntry(stream)
	if err != nil {
		return 0, err
	}
	rev := int64(-1)
	if ok {
		rev = int64(e.lastRev())
	}
	s.revs[stream] = rev
	return rev, nil
}
