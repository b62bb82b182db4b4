package projections

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// flaky wraps a projection and makes Apply fail as fail says, after the
// real Apply has staged its writes (which must then be dropped).
type flaky struct {
	Projection
	fail func(pos uint64, attempt int) error

	mu       sync.Mutex
	attempts map[uint64]int
}

func (f *flaky) Apply(w *Writer, ev *Event) error {
	f.mu.Lock()
	if f.attempts == nil {
		f.attempts = map[uint64]int{}
	}
	n := f.attempts[ev.Position]
	f.attempts[ev.Position]++
	f.mu.Unlock()
	if err := f.Projection.Apply(w, ev); err != nil {
		return err
	}
	return f.fail(ev.Position, n)
}

var fastRetries = RunnerConfig{Retries: 2, RetryInterval: time.Millisecond, Subscriber: SubscriberConfig{RedeliveryDelay: time.Millisecond, MaxRedeliveryDelay: 5 * time.Millisecond}}

// A storage failure is never poison: after the retries the message is
// nacked and redelivered until it succeeds, and the counts come out
// exact.
func TestStorageFailuresAreRedeliveredNotPoisoned(t *testing.T) {
	e := newEnv(t)
	loadLog(t, e.log, genHistory(4, 4, 2, 1500), 4)
	ps := Builtin()
	ps[2] = &flaky{Projection: ps[2], fail: func(pos uint64, attempt int) error {
		if pos%37 == 0 && attempt < 5 { // more attempts than Retries: a Nack
			return ErrStorage
		}
		return nil
	}}
	r, _ := startRunner(t, e.db, e.log, ps, fastRetries)
	waitFor(t, r, headOf(t, e.log))
	checkAgainstReference(t, e.db, referenceFold(t, e.log))
	if r.sub.Redelivered() == 0 || r.Poisoned(NameActivity) != 0 {
		t.Fatalf("redelivered %d, poisoned %d; want some redeliveries and no poison", r.sub.Redelivered(), r.Poisoned(NameActivity))
	}
}

// A panic is recovered and retried: a handler that panics once per event
// loses nothing.
func TestPanicsAreRecoveredAndRetried(t *testing.T) {
	e := newEnv(t)
	loadLog(t, e.log, genHistory(5, 4, 2, 800), 4)
	ps := Builtin()
	ps[2] = &flaky{Projection: ps[2], fail: func(pos uint64, attempt int) error {
		if pos%5 == 0 && attempt == 0 {
			panic("injected")
		}
		return nil
	}}
	r, _ := startRunner(t, e.db, e.log, ps, fastRetries)
	waitFor(t, r, headOf(t, e.log))
	checkAgainstReference(t, e.db, referenceFold(t, e.log))
	if r.Poisoned(NameActivity) != 0 {
		t.Fatalf("poisoned %d", r.Poisoned(NameActivity))
	}
}

// An event a projection cannot apply goes to the poison queue once, with
// the checkpoint, and the projection carries on with the next.
func TestUndecodableEventIsPoisonedOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	loadLog(t, e.log, genHistory(6, 3, 1, 200), 5)
	bad, err := e.log.Append(ctx, domain.VideoStream(1), eventstore.Any, eventstore.EventData{Type: domain.TypeAnnotationPosted, Data: []byte(`{"at":"soon"}`)})
	if err != nil {
		t.Fatal(err)
	}
	loadLog(t, e.log, genHistory(7, 3, 1, 200)[4:], 5)
	r, stop := startRunner(t, e.db, e.log, Builtin(), fastRetries)
	waitFor(t, r, headOf(t, e.log))
	stop()
	for _, name := range []string{NameActivity, NameAudit} {
		var got []Poisoned
		if err := e.db.Poisoned(ctx, name, func(p Poisoned) error { got = append(got, p); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Position != bad.FirstPosition || !strings.Contains(got[0].Reason, "undecodable") || got[0].Payload != `{"at":"soon"}` {
			t.Fatalf("%s poisoned %+v; want the event at %d", name, got, bad.FirstPosition)
		}
		if r.Poisoned(name) != 1 {
			t.Fatalf("%s: %d poisoned", name, r.Poisoned(name))
		}
	}
	// Everything else is there: the oracle skips the bad event too.
	ref := referenceFold(t, e.log)
	ref[1].posted-- // the oracle counted it (its body decodes as empty)
	delete(ref[1].live, domain.IDFromRevision(mustRevision(t, e.log, bad.FirstPosition)))
	checkAgainstReference(t, e.db, ref)

	// The batched rebuild poisons the same event.
	res, err := Rebuild(ctx, e.db, e.log, Builtin(), BatchOptions{}, nil)
	if err != nil || res.Poisoned[NameActivity] != 1 || res.Poisoned[NameAudit] != 1 {
		t.Fatalf("rebuild: %+v, %v", res, err)
	}
	checkAgainstReference(t, e.db, ref)
}

func mustRevision(tb testing.TB, s Log, pos uint64) uint64 {
	evs, err := s.ReadAll(context.Background(), eventstore.Forwards, pos, 1)
	if err != nil || len(evs) == 0 {
		tb.Fatal(err)
	}
	return evs[0].Revision
}

// Redelivering an event the projection has applied changes nothing.
func TestRedeliveryIsIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	loadLog(t, e.log, genHistory(8, 3, 1, 300), 3)
	r, err := NewRunner(e.db, e.log, Builtin(), RunnerConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := e.log.ReadAll(ctx, eventstore.Forwards, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		for range 3 { // each event delivered three times
			for _, st := range r.states {
				if err := r.applyOne(st, &evs[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	checkAgainstReference(t, e.db, referenceFold(t, e.log))

	// The same through watermill: the handler gets a message it has
	// already applied, and acks it without applying it again.
	before, _ := e.db.Counts(ctx, 1)
	st := r.byName[NameActivity]
	go r.work(st)
	defer close(st.work)
	h := r.handler(st)
	for i := range evs {
		if err := h(toMessage(&evs[i])); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := e.db.Counts(ctx, 1)
	if before != after {
		t.Fatalf("counts changed on redelivery:\n%+v\n%+v", before, after)
	}
}

func TestSubscriberRedeliversAfterNack(t *testing.T) {
	e := newEnv(t)
	loadLog(t, e.log, genHistory(9, 2, 1, 20), 1)
	sub := NewSubscriber(e.log, func(string) (uint64, error) { return 3, nil }, SubscriberConfig{RedeliveryDelay: time.Millisecond}, nil)
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs, err := sub.Subscribe(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	m := <-msgs
	if messagePosition(m) != 4 {
		t.Fatalf("first message at %d, want 4 (after the checkpoint 3)", messagePosition(m))
	}
	select {
	case m2 := <-msgs:
		t.Fatalf("got message %d before acking the first", messagePosition(m2))
	case <-time.After(20 * time.Millisecond):
	}
	m.Nack()
	again := <-msgs
	if messagePosition(again) != 4 || again.UUID != m.UUID {
		t.Fatalf("after Nack got %d, want 4 again", messagePosition(again))
	}
	again.Ack()
	if next := <-msgs; messagePosition(next) != 5 {
		t.Fatalf("after Ack got %d, want 5", messagePosition(next))
	}
	cancel()
	for range msgs {
	}
	if err := sub.Close(); err != nil || errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
