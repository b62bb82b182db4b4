package postgres_test

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/conformance"
	"github.com/videologue/videologue/eventstore/postgres"
	"github.com/videologue/videologue/internal/testenv/pgtest"
)

// openStore opens a store on schema, closed when t ends.
func openStore(t testing.TB, url, schema string, cfg postgres.Config) *postgres.Store {
	t.Helper()
	cfg.Schema = schema
	s, err := postgres.Open(t.Context(), url, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	url := pgtest.URL(t)
	conformance.Run(t, func(t testing.TB) eventstore.Store {
		cfg := postgres.Config{Schema: pgtest.Schema(t, url)}
		s, err := postgres.Open(t.Context(), url, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
