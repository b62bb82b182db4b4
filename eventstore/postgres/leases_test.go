package postgres_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore/postgres"
	"github.com/videologue/videologue/internal/testenv/pgtest"
)

// Two nodes' stores see each other's leases, by the database's clock.
func TestLeases(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	a, b := openStore(t, url, schema, noPoll), openStore(t, url, schema, noPoll)
	ctx := t.Context()
	alive := func(want ...string) {
		t.Helper()
		for i, s := range []*postgres.Store{a, b} {
			got, err := s.Alive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
				t.Fatalf("store %d: alive %v, want %v", i, keys, want)
			}
		}
	}
	alive()
	if err := a.Renew(ctx, "a/1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := b.Renew(ctx, "b/1", time.Hour); err != nil {
		t.Fatal(err)
	}
	alive("a/1", "b/1")
	if err := b.Release(ctx, "b/1"); err != nil {
		t.Fatal(err)
	}
	alive("a/1")
	// A lease that ends now is over: a node that stops renewing is
	// dead once its last lease runs out.
	if err := a.Renew(ctx, "a/1", 0); err != nil {
		t.Fatal(err)
	}
	alive()
}
