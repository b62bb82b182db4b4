package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/conformance"
	"github.com/videologue/videologue/eventstore/postgres"
	"github.com/videologue/videologue/internal/testenv"
)

const defaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// databaseURL returns the URL of the test database, from
// VIDEOLOGUE_POSTGRES_URL or the local default. When PostgreSQL is not
// reachable it skips t, or fails it under CI (see internal/testenv).
func databaseURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("VIDEOLOGUE_POSTGRES_URL")
	if url == "" {
		url = defaultURL
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	testenv.Require(t, fmt.Sprintf("PostgreSQL at %s (set VIDEOLOGUE_POSTGRES_URL to a database the tests may use): %v", url, err), err == nil)
	conn.Close(ctx)
	return url
}

// newSchema returns the name of a schema that no store uses yet, and drops
// it with everything in it when t ends, after the stores opened later.
func newSchema(t testing.TB, url string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "vltest_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		// t's context is already cancelled while cleanups run.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		if err := execSQL(ctx, url, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping test schema %s: %v", schema, err)
		}
	})
	return schema
}

func execSQL(ctx context.Context, url, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

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
	url := databaseURL(t)
	conformance.Run(t, func(t testing.TB) eventstore.Store {
		cfg := postgres.Config{Schema: newSchema(t, url)}
		s, err := postgres.Open(t.Context(), url, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
