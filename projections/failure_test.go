package projections

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

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

var fastRetries = Config{Retries: 2, RetryInterval: time.Millisecond, RedeliveryDelay: time.Millisecond, MaxRedeliveryDelay: 5 * time.Millisecond}

// A storage failure is never poison: after the retries the message is
// nacked and redelivered until it succeeds, and the counts come out
// exact.
func TestStorageFailuresAreRedeliveredNotPoisoned(t *testing.T) {
	e := newEnv(t)
	loadLog(t, e.log, genHistory(4, 4, 2, 1500), 4)
	ps := Builtin()
	ps[0] = &flaky{Projection: ps[0], fail: func(pos uint64, attempt int) error {
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
	if err := r.Err(); err != nil {
		t.Fatalf("Err after the storage recovered: %v", err)
	}
}

// A projection that fails on an event even after the retries (a panic)
// stops there, visibly: Err names it and its metric says so, while the
// other projections go on to the head.
func TestPanicPastRetriesStopsTheProjection(t *testing.T) {
	e := newEnv(t)
	loadLog(t, e.log, genHistory(5, 4, 2, 400), 4)
	const bad = 250
	ps := Builtin()
	ps[0] = &flaky{Projection: ps[0], fail: func(pos uint64, attempt int) error {
		if pos == bad {
			panic("injected")
		}
		return nil
	}}
	r, _ := startRunner(t, e.db, e.log, ps, fastRetries)
	waitFor(t, r, headOf(t, e.log))
	err := r.Err()
	if err == nil || !strings.Contains(err.Error(), NameActivity) || strings.Contains(err.Error(), NameAudit) {
		t.Fatalf("Err = %v; want the activity projection named, alone", err)
	}
	if cp, _ := r.Checkpoint(NameActivity); cp >= bad {
		t.Fatalf("activity at %d, past the event it could not apply (%d)", cp, bad)
	}
	if cp, _ := r.Checkpoint(NameAudit); cp != headOf(t, e.log) {
		t.Fatalf("audit at %d, want the head", cp)
	}
	if got := metricValue(t, r, "videologue_projection_stopped", NameActivity); got != 1 {
		t.Fatalf("stopped metric of activity = %v, want 1", got)
	}
	if got := metricValue(t, r, "videologue_projection_stopped", NameAudit); got != 0 {
		t.Fatalf("stopped metric of audit = %v, want 0", got)
	}
}

// A panic is recovered and retried: a projection that panics once at an
// event (one per message here) loses nothing.
func TestPanicsAreRecoveredAndRetried(t *testing.T) {
	e := newEnv(t)
	loadLog(t, e.log, genHistory(5, 4, 2, 800), 4)
	ps := Builtin()
	ps[0] = &flaky{Projection: ps[0], fail: func(pos uint64, attempt int) error {
		if pos%11 == 0 && attempt == 0 {
			panic("injected")
		}
		return nil
	}}
	cfg := fastRetries
	cfg.PageEvents = 8
	r, _ := startRunner(t, e.db, e.log, ps, cfg)
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
		if len(got) != 1 || got[0].Position != bad.FirstPosition || !strings.Contains(got[0].Reason, "undecodable") || got[0].Data != `{"at":"soon"}` {
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
	res := rebuild(t, e.db, e.log, Builtin(), Config{})
	if res.Poisoned[NameActivity] != 1 || res.Poisoned[NameAudit] != 1 {
		t.Fatalf("rebuild: %+v", res)
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

// Delivering a message the projections have applied again changes
// nothing.
func TestRedeliveryIsIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	loadLog(t, e.log, genHistory(8, 3, 1, 300), 3)
	r := newEngine(t, e.db, e.log, Builtin(), Config{})
	evs, err := e.log.ReadAll(ctx, eventstore.Forwards, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	b := r.newBatch()
	defer func() { b.w.batch.Close() }()
	r.rewind()
	for i := 0; i < len(evs); i += 7 {
		var page []*eventstore.RecordedEvent
		for j := i; j < min(i+7, len(evs)); j++ {
			page = append(page, &evs[j])
		}
		for range 3 { // each message delivered three times
			if err := r.handle(b, pageMessage(page)); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkAgainstReference(t, e.db, referenceFold(t, e.log))
}

func TestSubscriberRedeliversAfterNack(t *testing.T) {
	e := newEnv(t)
	loadLog(t, e.log, genHistory(9, 2, 1, 20), 1)
	sub := NewSubscriber(e.log, func() uint64 { return 3 }, Config{PageEvents: 1, RedeliveryDelay: time.Millisecond}, nil)
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs, err := sub.Subscribe(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	pos := func(m *message.Message) string { return m.Metadata.Get(MetaFirst) }
	m := <-msgs
	if pos(m) != "4" {
		t.Fatalf("first message at %s, want 4 (after the checkpoint 3)", pos(m))
	}
	select {
	case m2 := <-msgs:
		t.Fatalf("got message %s before acking the first", pos(m2))
	case <-time.After(20 * time.Millisecond):
	}
	m.Nack()
	again := <-msgs
	if pos(again) != "4" || again.UUID != m.UUID {
		t.Fatalf("after Nack got %s, want 4 again", pos(again))
	}
	again.Ack()
	if next := <-msgs; pos(next) != "5" {
		t.Fatalf("after Ack got %s, want 5", pos(next))
	}
	cancel()
	for range msgs {
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
}

// A message carries the events available at once, up to PageEvents.
func TestSubscriberCarriesPages(t *testing.T) {
	e := newEnv(t)
	loadLog(t, e.log, genHistory(9, 2, 1, 40), 1)
	head := headOf(t, e.log)
	sub := NewSubscriber(e.log, func() uint64 { return 0 }, Config{PageEvents: 16}, nil)
	defer sub.Close()
	msgs, err := sub.Subscribe(t.Context(), "t")
	if err != nil {
		t.Fatal(err)
	}
	var next uint64 = 1
	for next <= head {
		m := <-msgs
		evs, err := pageEvents(m)
		if err != nil || len(evs) == 0 || len(evs) > 16 || evs[0].Position != next {
			t.Fatalf("message of %d events from %v (%v), want up to 16 from %d", len(evs), evs, err, next)
		}
		for i, ev := range evs {
			if ev.Position != next+uint64(i) {
				t.Fatalf("event %d at %d, want %d", i, ev.Position, next+uint64(i))
			}
		}
		next += uint64(len(evs))
		m.Ack()
	}
}
