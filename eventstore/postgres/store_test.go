package postgres_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/postgres"
	"github.com/videologue/videologue/internal/testenv/pgtest"
)

// TestSchemaVersions: opening a schema again keeps it and its events;
// a schema from a newer build is refused.
func TestSchemaVersions(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	var wg sync.WaitGroup
	for range 3 { // nodes starting at once
		wg.Go(func() { openStore(t, url, schema, postgres.Config{}) })
	}
	wg.Wait()
	s := openStore(t, url, schema, postgres.Config{})
	res := mustAppend(t, s, "kept", eventstore.NoStream, event(0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, url, schema, postgres.Config{})
	if _, err := s.Append(t.Context(), "kept", eventstore.Exact(res.NextExpected), event(1)); err != nil {
		t.Fatalf("append after reopening: %v", err)
	}
	if evs, err := s.ReadAll(t.Context(), eventstore.Forwards, 0, 10); err != nil || len(evs) != 2 {
		t.Fatalf("after reopening: %d events, %v; want 2", len(evs), err)
	}

	if err := pgtest.Exec(t.Context(), url, "UPDATE "+pgx.Identifier{schema, "schema_version"}.Sanitize()+" SET version = 99"); err != nil {
		t.Fatal(err)
	}
	_, err := postgres.Open(t.Context(), url, postgres.Config{Schema: schema}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("Open of a schema at version 99: %v, want an error naming the version", err)
	}
}

// TestOpenUnreachable: a server that is not there fails Open with an error
// that says where.
func TestOpenUnreachable(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", postgres.Config{}, nil)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("Open of an unreachable server: %v", err)
	}
}

// TestEventIDs: an event ID is unique in the log; an append that repeats
// one fails alone, even in a group with others, and writes nothing.
func TestEventIDs(t *testing.T) {
	url := pgtest.URL(t)
	s := openStore(t, url, pgtest.Schema(t, url), postgres.Config{})
	taken := event(0)
	mustAppend(t, s, "ids", eventstore.NoStream, taken)
	twice := event(1)
	for _, c := range []struct {
		name   string
		events []eventstore.EventData
	}{
		{"taken", []eventstore.EventData{event(2), taken}},
		{"twice in one append", []eventstore.EventData{twice, twice}},
	} {
		if _, err := s.Append(t.Context(), "ids", eventstore.Any, c.events...); !errors.Is(err, eventstore.ErrInvalidEvent) {
			t.Errorf("append of an id %s: %v, want ErrInvalidEvent", c.name, err)
		}
	}
	// Concurrent appends share groups: only the one repeating an ID fails.
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Go(func() {
			e := event(10 + i)
			if i == 17 {
				e.ID = taken.ID
			}
			_, errs[i] = s.Append(t.Context(), fmt.Sprintf("ids-%d", i%3), eventstore.Any, e)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 17) != (err != nil) {
			t.Errorf("concurrent append %d: %v", i, err)
		}
	}
	if evs, err := s.ReadAll(t.Context(), eventstore.Forwards, 0, 100); err != nil || len(evs) != 40 {
		t.Fatalf("log: %d events, %v; want 40", len(evs), err)
	}
}

// TestNUL: PostgreSQL text cannot hold NUL, so an ID or type with one is
// refused up front.
func TestNUL(t *testing.T) {
	url := pgtest.URL(t)
	s := openStore(t, url, pgtest.Schema(t, url), postgres.Config{})
	for _, e := range []eventstore.EventData{
		{ID: "a\x00b", Type: "t.v1"},
		{Type: "t\x00.v1"},
	} {
		if _, err := s.Append(t.Context(), "nul", eventstore.Any, e); !errors.Is(err, eventstore.ErrInvalidEvent) {
			t.Errorf("append of %q: %v, want ErrInvalidEvent", e, err)
		}
	}
}

// TestRefusedAppendFailsAlone: when the server refuses a group for one
// append's sake (here a constraint that a DBA added), the other appends of
// the group still succeed.
func TestRefusedAppendFailsAlone(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	s := openStore(t, url, schema, postgres.Config{})
	if err := pgtest.Exec(t.Context(), url, "ALTER TABLE "+pgx.Identifier{schema, "events"}.Sanitize()+" ADD CHECK (type <> 'poison.v1')"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Go(func() {
			e := event(i)
			if i%10 == 3 {
				e.Type = "poison.v1"
			}
			_, errs[i] = s.Append(t.Context(), fmt.Sprintf("refused-%d", i%3), eventstore.Any, e)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i%10 == 3) != (err != nil) {
			t.Errorf("append %d: %v", i, err)
		}
	}
	if evs, err := s.ReadAll(t.Context(), eventstore.Forwards, 0, 100); err != nil || len(evs) != 36 {
		t.Fatalf("log: %d events, %v; want 36", len(evs), err)
	}
}
