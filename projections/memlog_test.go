package projections

import (
	"context"
	"sort"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// memLog is a log whose server times the test chooses, for the queries
// that depend on time (as-of-T, statistics). The other tests use the real
// store.
type memLog struct {
	events []eventstore.RecordedEvent
	revs   map[string]uint64
	signal *eventstore.Signal
	closed chan struct{}
}

func newMemLog() *memLog {
	return &memLog{revs: map[string]uint64{}, signal: eventstore.NewSignal(0), closed: make(chan struct{})}
}

// add appends one event recorded at time at.
func (m *memLog) add(stream string, ev eventstore.EventData, at time.Time) eventstore.RecordedEvent {
	rev, ok := m.revs[stream]
	if ok {
		rev++
	}
	m.revs[stream] = rev
	r := eventstore.RecordedEvent{ID: eventstore.NewID(), Type: ev.Type, Stream: stream, Revision: rev, Position: uint64(len(m.events) + 1),
		RecordedAt: at.UTC(), Data: ev.Data, Metadata: ev.Metadata}
	m.events = append(m.events, r)
	m.signal.Advance(r.Position)
	return r
}

func (m *memLog) ReadAll(ctx context.Context, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	if dir == eventstore.Backwards {
		i := len(m.events) - 1
		if from != eventstore.End && int(from) <= len(m.events) {
			i = int(from) - 1
		}
		for ; i >= 0 && len(out) < limit; i-- {
			out = append(out, m.events[i])
		}
		return out, nil
	}
	i := sort.Search(len(m.events), func(i int) bool { return m.events[i].Position >= from })
	for ; i < len(m.events) && len(out) < limit; i++ {
		out = append(out, m.events[i])
	}
	return out, nil
}

func (m *memLog) SubscribeToAll(ctx context.Context, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error) {
	return eventstore.Subscribe(ctx, eventstore.Feed{
		Stream: eventstore.AllStream,
		Page: func(ctx context.Context, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
			return m.ReadAll(ctx, eventstore.Forwards, from, limit)
		},
		Last:   func(context.Context) (uint64, bool, error) { return uint64(len(m.events)), len(m.events) > 0, nil },
		Signal: m.signal,
		Closed: m.closed,
	}, from, opts)
}
