package catalog_test

import (
	"errors"
	"testing"

	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

func TestCatalog(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), pebble.Config{CacheBytes: 8 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := t.Context()
	s := catalog.New(st, nil)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.Add(ctx, 7, "  My Title! ", "https://example.com/v.mp4", eventstore.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if v.ID != 1 || v.Title != "My Title!" || v.Slug != "my-title" || v.UserID != 7 || v.AddedAt.IsZero() {
		t.Fatalf("added %+v", v)
	}
	var ve *domain.ValidationError
	for _, c := range [][2]string{{"", "https://x.example"}, {"t", "javascript:alert(1)"}, {"t", "ftp://x.example/v"}, {"t", "https://"}} {
		if _, err := s.Add(ctx, 7, c[0], c[1], eventstore.Metadata{}); !errors.As(err, &ve) {
			t.Errorf("Add(%q, %q) = %v, want a validation error", c[0], c[1], err)
		}
	}
	w, _ := s.Add(ctx, 8, "Other", "http://example.com/w", eventstore.Metadata{})
	if got := s.List(ctx); len(got) != 2 || got[0].ID != w.ID {
		t.Fatalf("List = %+v, want newest first", got)
	}
	if got := s.ListByUser(ctx, 7); len(got) != 1 || got[0].ID != v.ID {
		t.Fatalf("ListByUser = %+v", got)
	}
	if _, err := s.Get(ctx, 3); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Get(3) = %v", err)
	}
	if ok, err := s.Exists(ctx, 2); !ok || err != nil {
		t.Fatalf("Exists(2) = %v, %v", ok, err)
	}
	// A second process's catalog finds a video added by the first at once.
	other := catalog.New(st, nil)
	if err := other.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	x, _ := s.Add(ctx, 9, "Third", "https://example.com/x", eventstore.Metadata{})
	if got, err := other.Get(ctx, x.ID); err != nil || got.Title != "Third" {
		t.Fatalf("other process Get = %+v, %v", got, err)
	}
}
