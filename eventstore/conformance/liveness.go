package conformance

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"
)

// Liveness is what a shared store offers the nodes sharing it to show
// they are alive outside the permanent log (channels.Liveness).
type Liveness interface {
	Renew(ctx context.Context, node string, ttl time.Duration) error
	Alive(ctx context.Context) (map[string]bool, error)
	Release(ctx context.Context, node string) error
}

// RunLiveness checks two handles on one shared store, as two nodes hold
// them: each sees the other's leases; a released lease is gone at once,
// and so is one renewed for no time (a node that stops renewing is dead
// once its last lease runs out, by the store's clock).
func RunLiveness(t *testing.T, a, b Liveness) {
	ctx := t.Context()
	alive := func(want ...string) {
		t.Helper()
		for i, s := range []Liveness{a, b} {
			got, err := s.Alive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
				t.Fatalf("handle %d: alive %v, want %v", i, keys, want)
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
	if err := a.Renew(ctx, "a/1", 0); err != nil {
		t.Fatal(err)
	}
	alive()
	if err := b.Renew(ctx, "b/1", time.Hour); err != nil {
		t.Fatal(err)
	}
	alive("b/1")
}
