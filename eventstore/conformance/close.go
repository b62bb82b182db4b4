package conformance

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
)

func testClosedStore(t *testing.T, o opener) {
	s := o.fresh(t)
	appendOK(t, s, "a", eventstore.NoStream, numbered(0))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := t.Context()
	if _, err := s.Append(ctx, "a", eventstore.Any, numbered(1)); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Append after Close: err = %v, want ErrClosed", err)
	}
	if _, err := s.Append(ctx, "b", eventstore.NoStream, numbered(1)); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Append to a new stream after Close: err = %v, want ErrClosed", err)
	}
	if _, err := s.ReadStream(ctx, "a", eventstore.Forwards, 0, 10); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("ReadStream after Close: err = %v, want ErrClosed", err)
	}
	if _, err := s.ReadAll(ctx, eventstore.Forwards, 0, 10); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("ReadAll after Close: err = %v, want ErrClosed", err)
	}
	if _, err := s.ReadAll(ctx, eventstore.Backwards, eventstore.End, 10); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("ReadAll backwards after Close: err = %v, want ErrClosed", err)
	}
	for _, tg := range targets() {
		for _, from := range []eventstore.From{eventstore.Start(), eventstore.FromEnd(), eventstore.After(0)} {
			sub, err := tg.subscribe(ctx, s, from, eventstore.SubscribeOptions{})
			if err == nil {
				sub.Close()
			}
			if !errors.Is(err, eventstore.ErrClosed) {
				t.Errorf("%s(%s) after Close: err = %v, want ErrClosed", tg.name, from, err)
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("second Close: %v, want nil or ErrClosed", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("second Close did not return")
	}
}

// testCloseDuringUse closes the store while appenders, readers and
// subscribers are busy: each must end with ErrClosed, and Close must return.
func testCloseDuringUse(t *testing.T, o opener) {
	s := o.fresh(t)
	ctx := t.Context()
	// Enough history that subscribers reading it one event a page are
	// still reading when the store closes.
	for i := range 6 {
		appendOK(t, s, "close-0", eventstore.Any, numberedN(100*i, 100)...)
	}
	var wg sync.WaitGroup
	defer func() {
		// Closing again ends the workers of a test that failed early.
		_ = s.Close()
		waitDone(t, "appenders, readers and subscribers after Close", wg.Wait)
	}()
	stream := target{name: "SubscribeToStream", stream: "close-0"}
	for _, tg := range []target{targets()[0], targets()[0], stream, stream} {
		sub, err := tg.subscribe(ctx, s, eventstore.Start(), eventstore.SubscribeOptions{PageSize: 1})
		if err != nil {
			t.Fatalf("%s: %v", tg.name, err)
		}
		wg.Go(func() {
			for range sub.Messages() {
			}
			var dropped *eventstore.SubscriptionDroppedError
			if err := sub.Err(); !errors.As(err, &dropped) || !errors.Is(err, eventstore.ErrClosed) {
				t.Errorf("%s when the store closed: Err() = %v, want a *SubscriptionDroppedError wrapping ErrClosed", tg.name, err)
			}
		})
	}
	var appended atomic.Int64
	enough := make(chan struct{})
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				_, err := s.Append(ctx, fmt.Sprintf("close-%d", w%3), eventstore.Any, numbered(i))
				if err != nil {
					if !errors.Is(err, eventstore.ErrClosed) {
						t.Errorf("Append while the store closed: %v, want success or ErrClosed", err)
					}
					return
				}
				if appended.Add(1) == 50 {
					close(enough)
				}
			}
		})
	}
	for r := range 2 {
		wg.Go(func() {
			for {
				var err error
				if r == 0 {
					_, err = s.ReadAll(ctx, eventstore.Backwards, eventstore.End, 20)
				} else {
					_, err = s.ReadStream(ctx, "close-1", eventstore.Forwards, 0, 20)
				}
				if err != nil {
					if !errors.Is(err, eventstore.ErrClosed) {
						t.Errorf("read while the store closed: %v, want success or ErrClosed", err)
					}
					return
				}
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(waitTimeout):
		t.Fatalf("appenders made %d appends in %v, want 50", appended.Load(), waitTimeout)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return while appenders, readers and subscribers were busy")
	}
}

// waitDone runs wait and fails t if it does not return within waitTimeout.
func waitDone(t testing.TB, what string, wait func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("%s: still waiting after %v", what, waitTimeout)
	}
}
