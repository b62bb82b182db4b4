package eventstore

import (
	"context"
	"testing"
	"time"
)

// A page read ahead that comes back short, while an append lands during
// its read, must not leave the subscription asleep: it waits on the
// signal taken before that read, which the append fired.
func TestReadAheadWakesForAnAppendDuringItsRead(t *testing.T) {
	const pageSize = 4
	log := make([]RecordedEvent, 0, 2*pageSize)
	for i := range pageSize + 1 {
		log = append(log, RecordedEvent{Stream: "s", Revision: uint64(i), Position: uint64(i + 1)})
	}
	sig := NewSignal(uint64(len(log)))
	aheadCalled := make(chan struct{})
	release := make(chan []RecordedEvent)
	called := false // by Page, which the subscription calls one at a time
	feed := Feed{
		Stream: "s",
		Signal: sig,
		Closed: make(chan struct{}),
		Page: func(ctx context.Context, from uint64, limit int) ([]RecordedEvent, error) {
			if from == pageSize && !called { // the read ahead of the second page
				called = true
				close(aheadCalled)
				select {
				case evs := <-release:
					return evs, nil
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			end := min(int(from)+limit, len(log))
			return append([]RecordedEvent(nil), log[from:end]...), nil
		},
	}
	sub, err := Subscribe(t.Context(), feed, Start(), SubscribeOptions{PageSize: pageSize, Buffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	<-aheadCalled
	// The second page is being read, and the first is not all delivered
	// (the buffer holds one): the read sees the log before this append.
	stale := append([]RecordedEvent(nil), log[pageSize:]...)
	log = append(log, RecordedEvent{Stream: "s", Revision: pageSize + 1, Position: pageSize + 2})
	sig.Advance(pageSize + 2)
	release <- stale

	var got []uint64
	timeout := time.After(30 * time.Second)
	for len(got) < pageSize+2 {
		select {
		case m, ok := <-sub.Messages():
			if !ok {
				t.Fatalf("subscription ended: %v", sub.Err())
			}
			if !m.CaughtUp {
				got = append(got, m.Event.Revision)
			}
		case <-timeout:
			t.Fatalf("after %v the subscription sleeps: the append during the read ahead did not wake it", got)
		}
	}
	for i, rev := range got {
		if rev != uint64(i) {
			t.Fatalf("revisions %v, want 0 to %d in order", got, pageSize+1)
		}
	}
}
