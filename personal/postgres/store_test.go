package postgres_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/videologue/videologue/internal/testenv/pgtest"
	"github.com/videologue/videologue/personal"
	"github.com/videologue/videologue/personal/postgres"
)

func TestKeys(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	s, err := postgres.Open(ctx, url, pgtest.Schema(t, url))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, 3); !errors.Is(err, personal.ErrNoKey) {
		t.Fatalf("Get before Create: %v", err)
	}
	first, err := s.Create(ctx, 3, []byte("first"))
	if err != nil || string(first) != "first" {
		t.Fatalf("Create = %q, %v", first, err)
	}
	if again, err := s.Create(ctx, 3, []byte("second")); err != nil || string(again) != "first" {
		t.Fatalf("second Create = %q, %v; the first key must win", again, err)
	}
	for range 2 {
		if err := s.Erase(ctx, 3); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Get(ctx, 3); !errors.Is(err, personal.ErrErased) {
		t.Fatalf("Get after Erase: %v", err)
	}
	if _, err := s.Create(ctx, 3, []byte("third")); !errors.Is(err, personal.ErrErased) {
		t.Fatalf("Create after Erase: %v", err)
	}
}

// Nodes started together on a fresh schema all open its key store.
func TestOpenTogether(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), url, schema)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("opening one fresh schema from 8 stores at once: %v", err)
	}
}
