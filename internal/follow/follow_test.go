package follow_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/internal/follow"
)

func TestFollower(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), pebble.Config{CacheBytes: 8 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	add := func() eventstore.AppendResult {
		res, err := st.Append(ctx, "s", eventstore.Any, eventstore.EventData{Type: "t", Data: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for range 3 {
		add()
	}
	var mu sync.Mutex
	var revs []uint64
	f := follow.New(st, "s", func(_ context.Context, ev *eventstore.RecordedEvent) {
		mu.Lock()
		revs = append(revs, ev.Revision)
		mu.Unlock()
	}, nil)
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if f.Applied() != 2 {
		t.Fatalf("after Start, applied %d, want the history (2)", f.Applied())
	}
	res := add()
	if err := f.WaitFor(ctx, int64(res.NextExpected)); err != nil {
		t.Fatal(err)
	}
	if err := f.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(revs) != 4 || revs[3] != 3 {
		t.Fatalf("applied %v", revs)
	}
	mu.Unlock()
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := f.WaitFor(short, 99); err == nil {
		t.Fatal("waiting for a revision that never comes returned nil")
	}
	// The store closing ends the follower; waiters learn it.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitFor(ctx, 99); err == nil {
		t.Fatal("WaitFor after the store closed returned nil")
	}
	f.Close()
}
