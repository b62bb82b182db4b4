package conformance_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// memStore is the simplest store that meets the contract, kept only to
// test the suite: it must pass, and each of its mutations (a bug put in on
// purpose) must fail the suite.
type memStore struct {
	mut string // the bug, "" for none

	mu       sync.Mutex
	log      []eventstore.RecordedEvent
	visible  []bool
	streams  map[string][]int // indexes into log, by revision
	lastHash [32]byte
	hasher   *eventstore.ChainHasher
	closing  bool
	closed   chan struct{}
	signal   *eventstore.Signal
}

var _ eventstore.Store = (*memStore)(nil)

func newMemStore(mut string) *memStore {
	return &memStore{
		mut:     mut,
		streams: map[string][]int{},
		hasher:  eventstore.NewChainHasher(),
		closed:  make(chan struct{}),
		signal:  eventstore.NewSignal(0),
	}
}

func (s *memStore) Append(ctx context.Context, stream string, exp eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	fail := func(err error) (eventstore.AppendResult, error) {
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Err: err}
	}
	if s.mut != "no-validate" {
		if err := eventstore.ValidateAppend(stream, events); err != nil {
			return fail(err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return fail(eventstore.ErrClosed)
	}
	cur := int64(len(s.streams[stream])) - 1
	ok := exp.Check(cur)
	if rev, exact := exp.Revision(); exact && s.mut == "exact-unsigned" {
		ok = uint64(cur) == rev
	}
	if s.mut == "racy-exact" {
		s.mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(100)) * time.Microsecond)
		s.mu.Lock()
		cur = int64(len(s.streams[stream])) - 1
	}
	if !ok {
		actual := cur
		if s.mut == "wrong-actual" {
			actual++
		}
		return fail(&eventstore.WrongExpectedRevisionError{Stream: stream, Expected: exp, Actual: actual})
	}
	res := eventstore.AppendResult{FirstPosition: uint64(len(s.log)) + 1}
	now := time.Now()
	if s.mut == "zero-time" {
		now = time.Time{}
	}
	var added []int
	for i, e := range events {
		ev := eventstore.RecordedEvent{
			ID: e.ID, Type: e.Type, Stream: stream, RecordedAt: now,
			Revision: uint64(len(s.streams[stream])), Position: uint64(len(s.log)) + 1,
			Data: bytes.Clone(e.Data), Metadata: bytes.Clone(e.Metadata),
		}
		if s.mut == "alias-data" {
			ev.Data = e.Data
		}
		if ev.ID == "" && s.mut != "no-id" {
			ev.ID = eventstore.NewID()
		}
		prev := s.lastHash
		if s.mut == "unchained" {
			prev = [32]byte{}
		}
		ev.Hash = s.hasher.Sum(prev, &ev)
		s.lastHash = ev.Hash
		s.log = append(s.log, ev)
		s.visible = append(s.visible, s.mut != "unordered")
		s.streams[stream] = append(s.streams[stream], len(s.log)-1)
		added = append(added, len(s.log)-1)
		res.LastPosition, res.NextExpected = ev.Position, ev.Revision
		if s.mut == "torn" && i == 0 {
			s.signal.Advance(ev.Position)
			s.mu.Unlock()
			runtime.Gosched()
			s.mu.Lock()
		}
	}
	if s.mut == "unordered" { // visible when done, whatever came before
		s.mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
		s.mu.Lock()
		for _, i := range added {
			s.visible[i] = true
		}
	}
	s.signal.Advance(res.LastPosition)
	return res, nil
}

// check is what every read does first.
func (s *memStore) check(ctx context.Context, op, stream string) error {
	if err := ctx.Err(); err != nil && s.mut != "ignore-ctx" {
		return &eventstore.Error{Op: op, Stream: stream, Err: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing && s.mut != "read-closed" {
		return &eventstore.Error{Op: op, Stream: stream, Err: eventstore.ErrClosed}
	}
	return nil
}

// pick returns copies of the visible events at idx, in order, up to limit.
func (s *memStore) pick(idx []int, limit int) []eventstore.RecordedEvent {
	var out []eventstore.RecordedEvent
	for _, i := range idx {
		if len(out) >= limit {
			break
		}
		if !s.visible[i] {
			continue
		}
		ev := s.log[i]
		if s.mut != "alias-data" {
			ev.Data, ev.Metadata = bytes.Clone(ev.Data), bytes.Clone(ev.Metadata)
		}
		out = append(out, ev)
	}
	return out
}

// span returns the indexes from..n-1 forwards, or from..0 backwards, of a
// sequence of n, from being clamped.
func span(n int, dir eventstore.Direction, from uint64) []int {
	var idx []int
	if dir == eventstore.Forwards {
		for i := from; i < uint64(n); i++ {
			idx = append(idx, int(i))
		}
		return idx
	}
	for i := int(min(from, uint64(n-1))); i >= 0 && n > 0; i-- {
		idx = append(idx, i)
	}
	return idx
}

func (s *memStore) ReadAll(ctx context.Context, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := s.check(ctx, "read", eventstore.AllStream); err != nil {
		return nil, err
	}
	return s.readAll(dir, from, limit), nil
}

func (s *memStore) readAll(dir eventstore.Direction, from uint64, limit int) []eventstore.RecordedEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if from == 0 && dir == eventstore.Backwards {
		return nil
	}
	if from > 0 && from != eventstore.End {
		from-- // positions from 1, indexes from 0
	}
	if dir == eventstore.Backwards && from != eventstore.End && s.mut == "backwards-exclusive" {
		from--
	}
	return s.pick(span(len(s.log), dir, from), limit)
}

func (s *memStore) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := s.check(ctx, "read", stream); err != nil {
		return nil, err
	}
	return s.readStream(stream, dir, from, limit), nil
}

func (s *memStore) readStream(stream string, dir eventstore.Direction, from uint64, limit int) []eventstore.RecordedEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mut == "prefix-stream" && dir == eventstore.Forwards {
		var idx []int
		for i := range s.log {
			if strings.HasPrefix(s.log[i].Stream, stream) && s.log[i].Revision >= from {
				idx = append(idx, i)
			}
		}
		return s.pick(idx, limit)
	}
	revs := s.streams[stream]
	var idx []int
	for _, r := range span(len(revs), dir, from) {
		idx = append(idx, revs[r])
	}
	return s.pick(idx, limit)
}

func (s *memStore) SubscribeToAll(ctx context.Context, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error) {
	if err := s.check(ctx, "subscribe", eventstore.AllStream); err != nil {
		return nil, err
	}
	from = s.mutateFrom(from)
	return eventstore.Subscribe(ctx, eventstore.Feed{
		Stream: eventstore.AllStream,
		Page: func(_ context.Context, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
			if s.mut == "sub-skip" && from > 3 {
				from++
			}
			return s.readAll(eventstore.Forwards, from, limit), nil
		},
		Last: func(context.Context) (uint64, bool, error) {
			evs := s.readAll(eventstore.Backwards, eventstore.End, 1)
			if len(evs) == 0 {
				return 0, false, nil
			}
			if s.mut == "end-behind" && evs[0].Position > 1 {
				return evs[0].Position - 1, true, nil
			}
			return evs[0].Position, true, nil
		},
		Signal: s.signal,
		Closed: s.closed,
	}, from, opts)
}

func (s *memStore) SubscribeToStream(ctx context.Context, stream string, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error) {
	if err := s.check(ctx, "subscribe", stream); err != nil {
		return nil, err
	}
	from = s.mutateFrom(from)
	return eventstore.Subscribe(ctx, eventstore.Feed{
		Stream: stream,
		Page: func(_ context.Context, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
			return s.readStream(stream, eventstore.Forwards, from, limit), nil
		},
		Last: func(context.Context) (uint64, bool, error) {
			evs := s.readStream(stream, eventstore.Backwards, eventstore.End, 1)
			if len(evs) == 0 {
				return 0, false, nil
			}
			return evs[0].Revision, true, nil
		},
		Signal: s.signal,
		Closed: s.closed,
	}, from, opts)
}

func (s *memStore) mutateFrom(from eventstore.From) eventstore.From {
	if n, ok := from.AfterValue(); ok && n > 0 && s.mut == "after-inclusive" {
		return eventstore.After(n - 1)
	}
	return from
}

func (s *memStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return eventstore.ErrClosed
	}
	s.closing = true
	close(s.closed)
	return nil
}
