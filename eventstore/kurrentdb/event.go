package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"

	"github.com/videologue/videologue/eventstore"
)

// raw is a KurrentDB event of this store, its envelope decoded.
type raw struct {
	ev     *kurrentdb.RecordedEvent
	stream string // without the prefix
	env    envelope
	meta   []byte
	ours   bool // the envelope was found: this store appended it
}

// decode returns ev as a raw event of this store, and false for an event
// outside it: another prefix, KurrentDB's own streams, or a KurrentDB
// system event ($-type) that this store did not write, such as the
// tombstone of a deleted stream.
func (s *Store) decode(ev *kurrentdb.RecordedEvent) (raw, bool) {
	stream, ok := s.streamOf(ev.StreamID)
	if !ok {
		return raw{}, false
	}
	r := raw{ev: ev, stream: stream}
	r.env, r.meta, r.ours = decodeMetadata(ev.UserMetadata)
	if !r.ours {
		if strings.HasPrefix(ev.EventType, "$") {
			return raw{}, false
		}
		r.env, r.meta = envelope{N: 1}, ev.UserMetadata
	}
	return r, true
}

// after reports whether KurrentDB position a comes after b.
func after(a, b kurrentdb.Position) bool {
	return a.Commit > b.Commit || a.Commit == b.Commit && a.Prepare > b.Prepare
}

// baseKey names the first event of an append: its KurrentDB stream and
// revision.
type baseKey struct {
	name string
	rev  uint64
}

// resolver gives raw events their positions. An event at index i of its
// append takes its position from the append's first event, i revisions
// earlier in the same stream: the resolver remembers the first events it
// has seen and reads the others from KurrentDB.
type resolver struct {
	s     *Store
	bases map[baseKey]uint64
}

func (s *Store) newResolver() *resolver { return &resolver{s: s, bases: map[baseKey]uint64{}} }

// note remembers the first events of appends among rs, so that the events
// after them resolve without a read.
func (r *resolver) note(rs ...raw) {
	for _, x := range rs {
		if x.env.I == 0 {
			r.bases[baseKey{x.ev.StreamID, x.ev.EventNumber}] = x.ev.Position.Commit
		}
	}
}

// event returns x as the store's RecordedEvent.
func (r *resolver) event(ctx context.Context, x raw) (eventstore.RecordedEvent, error) {
	base := x.ev.Position.Commit
	if x.env.I > 0 {
		if x.ev.EventNumber < uint64(x.env.I) {
			return eventstore.RecordedEvent{}, fmt.Errorf("event %s@%d claims index %d in its append", x.ev.StreamID, x.ev.EventNumber, x.env.I)
		}
		k := baseKey{x.ev.StreamID, x.ev.EventNumber - uint64(x.env.I)}
		b, ok := r.bases[k]
		if !ok {
			var err error
			if b, err = r.s.appendBase(ctx, k); err != nil {
				return eventstore.RecordedEvent{}, err
			}
			r.bases[k] = b
		}
		base = b
	}
	pos, err := pack(base, x.env.I)
	if err != nil {
		return eventstore.RecordedEvent{}, err
	}
	id := x.env.ID
	if id == "" {
		id = x.ev.EventID.String()
	}
	out := eventstore.RecordedEvent{
		ID:         id,
		Type:       x.ev.EventType,
		Stream:     x.stream,
		Revision:   x.ev.EventNumber,
		Position:   pos,
		RecordedAt: x.ev.CreatedDate,
	}
	if len(x.ev.Data) > 0 {
		out.Data = x.ev.Data
	}
	if len(x.meta) > 0 {
		out.Metadata = x.meta
	}
	return out, nil
}

// events resolves a batch read in one go: first events anywhere in the
// batch serve the others, whatever the direction of the read.
func (r *resolver) events(ctx context.Context, xs []raw) ([]eventstore.RecordedEvent, error) {
	r.note(xs...)
	out := make([]eventstore.RecordedEvent, 0, len(xs))
	for _, x := range xs {
		ev, err := r.event(ctx, x)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// appendBase reads the first event of an append and returns its KurrentDB
// log position.
func (s *Store) appendBase(ctx context.Context, k baseKey) (uint64, error) {
	evs, err := s.readKurrentStream(ctx, k.name, kurrentdb.Forwards, kurrentdb.Revision(k.rev), 1)
	if err != nil {
		return 0, err
	}
	if len(evs) == 0 || evs[0].EventNumber != k.rev {
		return 0, fmt.Errorf("the first event of an append, %s@%d, is gone (was the stream truncated or deleted?)", k.name, k.rev)
	}
	x, ok := s.decode(evs[0])
	if !ok || x.env.I != 0 {
		return 0, fmt.Errorf("event %s@%d should start an append, but its envelope says otherwise", k.name, k.rev)
	}
	return evs[0].Position.Commit, nil
}

// readKurrentStream reads count events of KurrentDB stream name; a stream
// that does not exist has none.
func (s *Store) readKurrentStream(ctx context.Context, name string, dir kurrentdb.Direction, from kurrentdb.StreamPosition, count uint64) ([]*kurrentdb.RecordedEvent, error) {
	rs, err := s.client.ReadStream(ctx, name, kurrentdb.ReadStreamOptions{Direction: dir, From: from}, count)
	if err != nil {
		return nil, err
	}
	evs, err := drain(rs)
	var kerr *kurrentdb.Error
	if errors.As(err, &kerr) && kerr.Code() == kurrentdb.ErrorCodeResourceNotFound {
		return nil, nil
	}
	return evs, err
}

// readKurrentAll reads count events of $all, unfiltered.
func (s *Store) readKurrentAll(ctx context.Context, dir kurrentdb.Direction, from kurrentdb.AllPosition, count uint64) ([]*kurrentdb.RecordedEvent, error) {
	rs, err := s.client.ReadAll(ctx, kurrentdb.ReadAllOptions{Direction: dir, From: from}, count)
	if err != nil {
		return nil, err
	}
	return drain(rs)
}

// drain reads a KurrentDB read to its end.
func drain(rs *kurrentdb.ReadStream) ([]*kurrentdb.RecordedEvent, error) {
	defer rs.Close()
	var out []*kurrentdb.RecordedEvent
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev.OriginalEvent())
	}
}
