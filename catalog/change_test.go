package catalog_test

import (
	"errors"
	"testing"

	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

// TestUpdateAndDelete: the owner and admins may edit and delete a video,
// nobody else; a deleted video leaves the lists, answers
// ErrVideoDeleted, takes no edit, and a catalog folded from the log
// afresh agrees.
func TestUpdateAndDelete(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), pebble.Config{CacheBytes: 8 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := t.Context()
	s := catalog.New(st, nil, nil)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	none, admin := domain.Roles{}, domain.Roles{domain.RoleAdmin: true}
	v, _ := s.Add(ctx, 7, "Tpyo", "https://example.com/v.mp4", eventstore.Metadata{})
	w, _ := s.Add(ctx, 7, "Other", "https://example.com/w.mp4", eventstore.Metadata{})

	for _, c := range []struct {
		user  int64
		roles domain.Roles
		want  error
	}{{8, none, domain.ErrForbidden}, {0, admin, domain.ErrForbidden}, {8, domain.Roles{domain.RoleAnalyst: true, domain.RoleAuditor: true}, domain.ErrForbidden}} {
		if _, err := s.Update(ctx, v.ID, c.user, c.roles, "Mine now", "https://example.com/x", eventstore.Metadata{}); !errors.Is(err, c.want) {
			t.Errorf("Update by %d %v = %v, want %v", c.user, c.roles, err, c.want)
		}
		if err := s.Delete(ctx, v.ID, c.user, c.roles, eventstore.Metadata{}); !errors.Is(err, c.want) {
			t.Errorf("Delete by %d %v = %v, want %v", c.user, c.roles, err, c.want)
		}
	}
	// A stranger's bad input is refused for the stranger, not the input.
	if _, err := s.Update(ctx, v.ID, 8, none, "", "javascript:alert(1)", eventstore.Metadata{}); !errors.Is(err, domain.ErrForbidden) {
		t.Errorf("stranger's bad update = %v", err)
	}
	var ve *domain.ValidationError
	if _, err := s.Update(ctx, v.ID, 7, none, "Typo fixed", "javascript:alert(1)", eventstore.Metadata{}); !errors.As(err, &ve) || ve.Field != "url" {
		t.Errorf("owner's bad URL = %v", err)
	}
	got, err := s.Update(ctx, v.ID, 7, none, " Typo fixed ", "https://example.com/fixed.mp4", eventstore.Metadata{})
	if err != nil || got.Title != "Typo fixed" || got.Slug != "typo-fixed" || got.URL != "https://example.com/fixed.mp4" || got.UserID != 7 || got.ID != v.ID {
		t.Fatalf("owner's update = %+v, %v", got, err)
	}
	if got, err := s.Update(ctx, w.ID, 99, admin, "Renamed by an admin", w.URL, eventstore.Metadata{}); err != nil || got.Title != "Renamed by an admin" || got.UserID != 7 {
		t.Fatalf("admin's update = %+v, %v", got, err)
	}
	if _, err := s.Update(ctx, 42, 7, admin, "x", "https://example.com", eventstore.Metadata{}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("update of no video = %v", err)
	}

	if err := s.Delete(ctx, v.ID, 7, none, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, w.ID, 99, admin, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	x, _ := s.Add(ctx, 7, "Kept", "https://example.com/k.mp4", eventstore.Metadata{})
	for _, c := range []*catalog.Service{s, restarted(t, st)} {
		if _, err := c.Get(ctx, v.ID); !errors.Is(err, domain.ErrVideoDeleted) {
			t.Errorf("Get of a deleted video = %v", err)
		}
		if ok, err := c.Exists(ctx, w.ID); ok || !errors.Is(err, domain.ErrVideoDeleted) {
			t.Errorf("Exists of a deleted video = %v, %v", ok, err)
		}
		for _, q := range []catalog.Query{{Limit: 10}, {UserID: 7, Limit: 10}, {Limit: 1}} {
			if p := c.List(ctx, q); len(p.Videos) != 1 || p.Videos[0].ID != x.ID || p.Next != 0 {
				t.Errorf("List(%+v) = %+v, want only the video kept", q, p)
			}
		}
	}
	if _, err := s.Update(ctx, v.ID, 7, none, "Back?", "https://example.com", eventstore.Metadata{}); !errors.Is(err, domain.ErrVideoDeleted) {
		t.Errorf("update of a deleted video = %v", err)
	}
	if err := s.Delete(ctx, v.ID, 7, none, eventstore.Metadata{}); !errors.Is(err, domain.ErrVideoDeleted) {
		t.Errorf("second delete = %v", err)
	}
	if err := s.ReportDuration(ctx, v.ID, 7, 5000, eventstore.Metadata{}); !errors.Is(err, domain.ErrVideoDeleted) {
		t.Errorf("duration of a deleted video = %v", err)
	}
}

// restarted is a catalog folded afresh from st's log.
func restarted(t *testing.T, st catalog.Store) *catalog.Service {
	t.Helper()
	c := catalog.New(st, nil, nil)
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
