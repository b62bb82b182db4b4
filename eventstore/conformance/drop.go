package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// testSlowSubscriber leaves a live subscription unread while appenders run:
// the appenders must finish, the store must drop the subscription with
// ErrSubscriberTooSlow, and resubscribing after its checkpoint must
// continue exactly.
func testSlowSubscriber(t *testing.T, o opener) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			s := o.fresh(t)
			ctx := t.Context()
			opts := eventstore.SubscribeOptions{Buffer: 4, MaxLag: 16, PageSize: 7}
			sub := tg.must(t, s, eventstore.Start(), opts)
			// Catch-up never drops, so take the subscription live first.
			if m := next(t, sub); !m.CaughtUp {
				t.Fatalf("first message of a subscription to an empty log: %+v, want CaughtUp", m)
			}
			const writers, each = 4, 50
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						stream := []string{subStream, otherStream}[(w+i)%2]
						if _, err := s.Append(ctx, stream, eventstore.Any, numbered(w*1000+i)); err != nil {
							t.Errorf("Append: %v", err)
							return
						}
					}
				})
			}
			waitDone(t, fmt.Sprintf("%d appends while a subscriber reads nothing (a slow subscriber must not hold appenders)", writers*each), wg.Wait)
			err := subscriptionErr(t, sub, "a subscription that read nothing while the head moved 200 positions (MaxLag 16) was not dropped")
			var dropped *eventstore.SubscriptionDroppedError
			if !errors.Is(err, eventstore.ErrSubscriberTooSlow) || !errors.As(err, &dropped) {
				t.Fatalf("Err() = %v, want a *SubscriptionDroppedError wrapping ErrSubscriberTooSlow", err)
			}
			if dropped.Stream != tg.streamName() || !dropped.Delivered {
				t.Errorf("dropped: %+v, want Stream %q and Delivered (the buffer took %d events)", *dropped, tg.streamName(), opts.Buffer)
			}
			// What was delivered before the drop is still in Messages.
			var got []eventstore.RecordedEvent
			for _, m := range drain(t, sub) {
				if m.CaughtUp {
					t.Fatal("second CaughtUp")
				}
				got = append(got, *m.Event)
			}
			if len(got) == 0 || tg.cursor(&got[len(got)-1]) != dropped.Checkpoint {
				t.Fatalf("Checkpoint %d, but the events delivered before the drop end with %s", dropped.Checkpoint, listEvents(got, len(got)-1))
			}
			log := tg.filter(readAll(t, s))
			sameEvents(t, "events delivered before the drop", got, log[:min(len(got), len(log))], true)

			again := tg.must(t, s, eventstore.After(dropped.Checkpoint), eventstore.SubscribeOptions{PageSize: 7})
			rest, _ := receiveThrough(t, again, log[len(log)-1].ID)
			sameEvents(t, "events before the drop and after resubscribing", append(got, rest...), log, true)
		})
	}
}

// subscriptionErr waits for sub to end and returns its error.
func subscriptionErr(t testing.TB, sub *eventstore.Subscription, hang string) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- sub.Err() }() // ends at the latest when t's cleanup closes sub
	select {
	case err := <-errc:
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("%s within %v", hang, waitTimeout)
	}
	panic("unreachable")
}

// testSubscriptionEnd ends subscriptions each way there is: by their
// context, by Close, and by closing the store.
func testSubscriptionEnd(t *testing.T, o opener) {
	stops := []struct {
		name string
		stop func(t testing.TB, cancel context.CancelFunc, sub *eventstore.Subscription)
	}{
		{"ContextCancelled", func(_ testing.TB, cancel context.CancelFunc, _ *eventstore.Subscription) { cancel() }},
		{"Close", func(t testing.TB, _ context.CancelFunc, sub *eventstore.Subscription) {
			waitDone(t, "Subscription.Close", sub.Close)
			waitDone(t, "second Subscription.Close", sub.Close)
		}},
	}
	for _, stop := range stops {
		for _, tg := range targets() {
			t.Run(stop.name+"/"+tg.name+"/Live", func(t *testing.T) {
				s := o.fresh(t)
				evs := numberedN(0, 5)
				appendOK(t, s, subStream, eventstore.NoStream, evs...)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				sub, err := tg.subscribe(ctx, s, eventstore.Start(), eventstore.SubscribeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer sub.Close()
				receiveThrough(t, sub, evs[4].ID)
				stop.stop(t, cancel, sub)
				if msgs := drain(t, sub); len(msgs) > 0 {
					t.Errorf("%d messages after the subscription was stopped with nothing appended", len(msgs))
				}
				if err := sub.Err(); err != nil {
					t.Errorf("Err() = %v, want nil", err)
				}
			})
			t.Run(stop.name+"/"+tg.name+"/CatchingUp", func(t *testing.T) {
				s := o.fresh(t)
				appendOK(t, s, subStream, eventstore.NoStream, numberedN(0, 50)...)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				sub, err := tg.subscribe(ctx, s, eventstore.Start(), eventstore.SubscribeOptions{Buffer: 2, PageSize: 7})
				if err != nil {
					t.Fatal(err)
				}
				defer sub.Close()
				if first := next(t, sub); first.CaughtUp {
					t.Fatal("CaughtUp before 50 events of history")
				}
				stop.stop(t, cancel, sub)
				// What was under way may still come; the channel must close.
				if n := len(drain(t, sub)); n > 50 {
					t.Errorf("%d messages after the first, of 50 events and CaughtUp", n)
				}
				if err := sub.Err(); err != nil {
					t.Errorf("Err() = %v, want nil", err)
				}
			})
		}
	}
	t.Run("StoreClosed", func(t *testing.T) { testStoreClosedEndsSubscriptions(t, o) })
}

func testStoreClosedEndsSubscriptions(t *testing.T, o opener) {
	s := o.fresh(t)
	evs := numberedN(0, 50)
	res := appendOK(t, s, subStream, eventstore.NoStream, evs...)
	all := targets()[0]
	live := all.must(t, s, eventstore.Start(), eventstore.SubscribeOptions{})
	receiveThrough(t, live, evs[49].ID)
	never := target{name: "SubscribeToStream", stream: "never"}
	empty := never.must(t, s, eventstore.FromEnd(), eventstore.SubscribeOptions{})
	stuck := targets()[1].must(t, s, eventstore.Start(), eventstore.SubscribeOptions{Buffer: 1, PageSize: 7})
	if m := next(t, stuck); m.CaughtUp || m.Event.Revision != 0 {
		t.Fatalf("first message of a stream subscription from Start: %+v, want revision 0", m)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return while subscriptions were open, one of them unread")
	}
	for _, c := range []struct {
		name      string
		tg        target
		sub       *eventstore.Subscription
		delivered bool
		at        uint64
	}{
		{"live subscription to all", all, live, true, res.LastPosition},
		{"FromEnd subscription to a stream with no events", never, empty, false, 0},
		{"unread subscription in catch-up", targets()[1], stuck, true, 0},
	} {
		msgs := drain(t, c.sub)
		err := c.sub.Err()
		var dropped *eventstore.SubscriptionDroppedError
		if !errors.As(err, &dropped) || !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("%s: Err() = %v, want a *SubscriptionDroppedError wrapping ErrClosed", c.name, err)
			continue
		}
		// What was under way when the store closed may still arrive, up
		// to and past CaughtUp (which carries no event): the checkpoint is
		// the cursor of the last event delivered.
		for i := len(msgs) - 1; i >= 0; i-- {
			if msgs[i].Event != nil {
				c.at = c.tg.cursor(msgs[i].Event)
				break
			}
		}
		if dropped.Stream != c.tg.streamName() || dropped.Delivered != c.delivered || c.delivered && dropped.Checkpoint != c.at {
			t.Errorf("%s: dropped %+v, want Stream %q, Delivered %v, Checkpoint %d", c.name, *dropped, c.tg.streamName(), c.delivered, c.at)
		}
	}
}
