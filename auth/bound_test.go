package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/videologue/videologue/auth"
)

// hold takes b's only slot until the returned release is called.
func hold(t *testing.T, b *auth.HashBound) (release func()) {
	t.Helper()
	held, free, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() { done <- b.Do(context.Background(), func() { close(held); <-free }) }()
	<-held
	return func() {
		close(free)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// A caller that finds every slot taken gives up with ErrBusy once the
// bound's wait is over, with its own context's error when that ends
// first, and runs once a slot frees within its wait.
func TestHashBound(t *testing.T) {
	b := auth.NewHashBound(1, 0)
	release := hold(t, b)
	ran := false
	if err := b.Do(t.Context(), func() { ran = true }); !errors.Is(err, auth.ErrBusy) || ran {
		t.Fatalf("with the slot taken and no wait: %v, ran %v", err, ran)
	}
	release()
	if err := b.Do(t.Context(), func() { ran = true }); err != nil || !ran {
		t.Fatalf("with the slot free: %v, ran %v", err, ran)
	}

	patient := auth.NewHashBound(1, time.Hour)
	release = hold(t, patient)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := patient.Do(ctx, func() {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller whose request ended: %v, want context.Canceled", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- patient.Do(t.Context(), func() {}) }()
	release()
	if err := <-waited; err != nil {
		t.Fatalf("a caller that waited for the slot: %v", err)
	}
}
