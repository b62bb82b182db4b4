package catalog_test

import (
	"errors"
	"fmt"
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
	s := catalog.New(st, nil, nil)
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
	if got := s.List(ctx, catalog.Query{Limit: 50}); len(got.Videos) != 2 || got.Videos[0].ID != w.ID || got.Next != 0 {
		t.Fatalf("List = %+v, want newest first", got)
	}
	if got := s.List(ctx, catalog.Query{UserID: 7, Limit: 50}); len(got.Videos) != 1 || got.Videos[0].ID != v.ID {
		t.Fatalf("List of user 7 = %+v", got)
	}
	if _, err := s.Get(ctx, 3); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Get(3) = %v", err)
	}
	if ok, err := s.Exists(ctx, 2); !ok || err != nil {
		t.Fatalf("Exists(2) = %v, %v", ok, err)
	}
	// A second process's catalog finds a video added by the first at once.
	other := catalog.New(st, nil, nil)
	if err := other.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	x, _ := s.Add(ctx, 9, "Third", "https://example.com/x", eventstore.Metadata{})
	if got, err := other.Get(ctx, x.ID); err != nil || got.Title != "Third" {
		t.Fatalf("other process Get = %+v, %v", got, err)
	}
}

// TestListPages: pages follow each other without gaps or repeats, for
// everyone's videos and for one user's, and the last says so.
func TestListPages(t *testing.T) {
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
	for i := range 23 {
		if _, err := s.Add(ctx, int64(1+i%3), fmt.Sprintf("v%d", i), "https://example.com/v.mp4", eventstore.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	walk := func(user int64, limit int) []int64 {
		var ids []int64
		q := catalog.Query{UserID: user, Limit: limit}
		for range 100 {
			p := s.List(ctx, q)
			if len(p.Videos) > limit {
				t.Fatalf("page of %d for a limit of %d", len(p.Videos), limit)
			}
			for _, v := range p.Videos {
				if user != 0 && v.UserID != user {
					t.Fatalf("user %d's page holds video %d of user %d", user, v.ID, v.UserID)
				}
				ids = append(ids, v.ID)
			}
			if p.Next == 0 {
				return ids
			}
			q.After = p.Next
		}
		t.Fatal("pages never end")
		return nil
	}
	for _, limit := range []int{1, 5, 23, 200} {
		ids := walk(0, limit)
		if len(ids) != 23 || ids[0] != 23 || ids[22] != 1 {
			t.Fatalf("limit %d: %v", limit, ids)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] != ids[i-1]-1 {
				t.Fatalf("limit %d: gap or repeat in %v", limit, ids)
			}
		}
		if mine := walk(2, limit); len(mine) != 8 || mine[0] != 23 || mine[7] != 2 {
			t.Fatalf("limit %d, user 2: %v", limit, mine)
		}
	}
	if p := s.List(ctx, catalog.Query{After: 1, Limit: 5}); len(p.Videos) != 0 || p.Next != 0 {
		t.Fatalf("after the oldest: %+v", p)
	}
	if p := s.List(ctx, catalog.Query{UserID: 99, Limit: 5}); len(p.Videos) != 0 || p.Next != 0 {
		t.Fatalf("a user without videos: %+v", p)
	}
}

// TestReportDuration: the catalog keeps the largest duration reported per
// video, writes an event only for a report that raises it, and another
// process's catalog sees it.
func TestReportDuration(t *testing.T) {
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
	v, _ := s.Add(ctx, 1, "clip", "https://example.com/v.mp4", eventstore.Metadata{})
	if d, err := s.Duration(ctx, v.ID); d != 0 || err != nil {
		t.Fatalf("before any report: %d, %v", d, err)
	}
	for _, ms := range []int64{19500, 20000, 12000, 20000, 19999} {
		if err := s.ReportDuration(ctx, v.ID, 2, ms, eventstore.Metadata{}); err != nil {
			t.Fatalf("report %d: %v", ms, err)
		}
	}
	if d, _ := s.Duration(ctx, v.ID); d != 20000 {
		t.Fatalf("duration %d, want 20000", d)
	}
	if evs, _ := st.ReadStream(ctx, domain.DurationsStream, eventstore.Forwards, 0, 100); len(evs) != 1 {
		t.Fatalf("%d events for reports that raised the duration once", len(evs))
	}
	var ve *domain.ValidationError
	for _, ms := range []int64{0, -1, domain.MaxDurationMS + 1} {
		if err := s.ReportDuration(ctx, v.ID, 2, ms, eventstore.Metadata{}); !errors.As(err, &ve) {
			t.Errorf("report %d: %v, want a validation error", ms, err)
		}
	}
	if err := s.ReportDuration(ctx, 99, 2, 5000, eventstore.Metadata{}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("report on an unknown video: %v", err)
	}
	if err := s.ReportDuration(ctx, v.ID, 2, 61_500, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	other := catalog.New(st, nil, nil)
	if err := other.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got, err := other.Get(ctx, v.ID); err != nil || got.DurationMS != 62000 {
		t.Fatalf("another process: %+v, %v; want 62000", got, err)
	}
}
