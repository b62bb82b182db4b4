package conformance

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// target is what a subscription follows: the whole log, or one stream.
type target struct {
	name   string
	stream string // "" for the whole log
}

// subStream is the stream that stream subscriptions follow; the tests
// append to it and to otherStream, interleaved.
const subStream, otherStream = "sub", "other"

// targets are the two kinds of subscription.
func targets() [2]target {
	return [...]target{{name: "SubscribeToAll"}, {name: "SubscribeToStream", stream: subStream}}
}

func (tg target) subscribe(ctx context.Context, s eventstore.Store, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error) {
	if tg.stream == "" {
		return s.SubscribeToAll(ctx, from, opts)
	}
	return s.SubscribeToStream(ctx, tg.stream, from, opts)
}

// must subscribes and fails t on error; the subscription is closed when t
// ends.
func (tg target) must(t testing.TB, s eventstore.Store, from eventstore.From, opts eventstore.SubscribeOptions) *eventstore.Subscription {
	t.Helper()
	sub, err := tg.subscribe(t.Context(), s, from, opts)
	if err != nil {
		t.Fatalf("%s(%s): %v", tg.name, from, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// cursor is what After takes for ev: its position or its revision.
func (tg target) cursor(ev *eventstore.RecordedEvent) uint64 {
	if tg.stream == "" {
		return ev.Position
	}
	return ev.Revision
}

// filter returns the events of log that the target follows.
func (tg target) filter(log []eventstore.RecordedEvent) []eventstore.RecordedEvent {
	if tg.stream == "" {
		return log
	}
	return inStream(log, tg.stream)
}

// streamName is the Stream a SubscriptionDroppedError names.
func (tg target) streamName() string {
	if tg.stream == "" {
		return eventstore.AllStream
	}
	return tg.stream
}

// next returns the next message, failing t if the subscription ends or
// nothing comes within waitTimeout.
func next(t testing.TB, sub *eventstore.Subscription) eventstore.Message {
	t.Helper()
	select {
	case m, ok := <-sub.Messages():
		if !ok {
			t.Fatalf("subscription ended: %v", sub.Err())
		}
		if !m.CaughtUp && m.Event == nil {
			t.Fatal("message with neither an event nor CaughtUp")
		}
		return m
	case <-time.After(waitTimeout):
		t.Fatalf("no message within %v", waitTimeout)
	}
	panic("unreachable")
}

// receiveThrough reads until the event with ID last and the CaughtUp marker
// have both come, and returns the events and how many of them came before
// CaughtUp.
func receiveThrough(t testing.TB, sub *eventstore.Subscription, last string) (evs []eventstore.RecordedEvent, before int) {
	t.Helper()
	before = -1
	for before < 0 || len(evs) == 0 || evs[len(evs)-1].ID != last {
		m := next(t, sub)
		switch {
		case m.CaughtUp && before >= 0:
			t.Fatalf("second CaughtUp after %d events", len(evs))
		case m.CaughtUp:
			before = len(evs)
		default:
			evs = append(evs, *m.Event)
		}
	}
	return evs, before
}

// drain reads until Messages is closed, failing t if that takes longer
// than waitTimeout, and returns what it read.
func drain(t testing.TB, sub *eventstore.Subscription) []eventstore.Message {
	t.Helper()
	var msgs []eventstore.Message
	deadline := time.After(waitTimeout)
	for {
		select {
		case m, ok := <-sub.Messages():
			if !ok {
				return msgs
			}
			msgs = append(msgs, m)
		case <-deadline:
			t.Fatalf("Messages not closed within %v", waitTimeout)
		}
	}
}

// appendMixed appends n events in batches of 1 to 3, the first to subStream
// and the others to subStream or otherStream at random.
func appendMixed(ctx context.Context, s eventstore.Store, rng *rand.Rand, n int) error {
	for i := 0; i < n; {
		size := min(1+rng.IntN(3), n-i)
		stream := subStream
		if i > 0 && rng.IntN(2) == 0 {
			stream = otherStream
		}
		if _, err := s.Append(ctx, stream, eventstore.Any, numberedN(i, size)...); err != nil {
			return fmt.Errorf("append %d of %d: %w", i, n, err)
		}
		i += size
	}
	return nil
}

// testSubscribe subscribes while events are being appended, many times
// over, so that the switch from history to live lands everywhere, and
// checks that the subscriber gets exactly the events it should, in order,
// with one CaughtUp after every event that existed when it subscribed.
func testSubscribe(t *testing.T, o opener) {
	iterations := 12
	if testing.Short() {
		iterations = 3
	}
	for _, tg := range targets() {
		for _, kind := range []string{"Start", "End", "After"} {
			t.Run(tg.name+"/"+kind, func(t *testing.T) {
				seed := rand.Uint64()
				rng := rand.New(rand.NewPCG(seed, 0))
				for i := range iterations {
					if !t.Run(fmt.Sprint(i), func(t *testing.T) { subscribeDuringAppends(t, o, tg, kind, rng) }) {
						t.Fatalf("random seed %d", seed)
					}
				}
			})
		}
	}
}

func subscribeDuringAppends(t *testing.T, o opener, tg target, kind string, rng *rand.Rand) {
	s := o.fresh(t)
	ctx := t.Context()
	if err := appendMixed(ctx, s, rng, 20+rng.IntN(30)); err != nil {
		t.Fatal(err)
	}
	from := eventstore.Start()
	var after uint64
	switch kind {
	case "End":
		from = eventstore.FromEnd()
	case "After":
		history := tg.filter(readAll(t, s))
		after = tg.cursor(&history[rng.IntN(len(history))])
		from = eventstore.After(after)
	}
	opts := eventstore.SubscribeOptions{PageSize: 7, Buffer: [...]int{1, 3, 0}[rng.IntN(3)]}
	liveRng := rand.New(rand.NewPCG(rng.Uint64(), 1))
	live := make(chan error, 1)
	go func() { live <- appendMixed(ctx, s, liveRng, 60) }()
	liveDone := false
	defer func() {
		if !liveDone {
			<-live
		}
	}()
	headBefore := headPosition(t, s)
	sub := tg.must(t, s, from, opts)
	headAfter := headPosition(t, s)

	// Read until the appender is done and a sentinel appended after it has
	// come, with CaughtUp.
	var got []eventstore.RecordedEvent
	caughtUp, caughtUps := -1, 0
	var sentinel string
	for liveC := live; sentinel == "" || caughtUps == 0 || len(got) == 0 || got[len(got)-1].ID != sentinel; {
		select {
		case err := <-liveC:
			if err != nil {
				t.Fatal(err)
			}
			liveDone, liveC = true, nil
			e := numbered(-1)
			appendOK(t, s, subStream, eventstore.Any, e)
			sentinel = e.ID
		case m, ok := <-sub.Messages():
			switch {
			case !ok:
				t.Fatalf("subscription ended after %d events: %v", len(got), sub.Err())
			case m.CaughtUp:
				if caughtUps++; caughtUps == 1 {
					caughtUp = len(got)
				}
			default:
				got = append(got, *m.Event)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("no message within %v; received %d events, %d CaughtUp", waitTimeout, len(got), caughtUps)
		}
	}
	log := tg.filter(readAll(t, s))

	var want []eventstore.RecordedEvent
	switch kind {
	case "Start":
		want = log
	case "After":
		for _, ev := range log {
			if tg.cursor(&ev) > after {
				want = append(want, ev)
			}
		}
	case "End":
		// Events appended while Subscribe ran may or may not be delivered:
		// what is, is the log from some point between the heads before
		// and after Subscribe to its end.
		k := max(0, len(log)-len(got))
		want = log[k:]
		if len(got) > 0 && got[0].Position <= headBefore {
			t.Errorf("delivered %s, which existed before Subscribe (head %d)", describe(&got[0]), headBefore)
		}
		if k > 0 && log[k-1].Position > headAfter {
			t.Errorf("did not deliver %s, appended after Subscribe returned (head %d)", describe(&log[k-1]), headAfter)
		}
	}
	sameEvents(t, fmt.Sprintf("%s(%s) during appends (%+v)", tg.name, from, opts), got, want, true)
	if caughtUps != 1 {
		t.Fatalf("%d CaughtUp messages, want 1", caughtUps)
	}
	for i, ev := range want {
		if ev.Position <= headBefore && i >= caughtUp {
			t.Fatalf("%s existed when the subscription started but came after CaughtUp (after %d events)", describe(&ev), caughtUp)
		}
	}
	// Nothing more is pending: the next event appended is the next message.
	e := numbered(-2)
	appendOK(t, s, subStream, eventstore.Any, e)
	if m := next(t, sub); m.CaughtUp || m.Event.ID != e.ID {
		t.Fatalf("after the last expected event came %+v, want event %s", m, e.ID)
	}
}
