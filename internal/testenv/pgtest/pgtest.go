// Package pgtest gives tests a PostgreSQL database and a schema of their
// own in it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/videologue/videologue/internal/testenv"
)

// DefaultURL is the PostgreSQL of the development machines and CI.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL is the database the tests may use: $VIDEOLOGUE_POSTGRES_URL, else
// DefaultURL. When it does not answer, t skips (fails under CI, see
// testenv.Require).
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("VIDEOLOGUE_POSTGRES_URL")
	if url == "" {
		url = DefaultURL
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	testenv.Require(t, fmt.Sprintf("PostgreSQL at %s (set VIDEOLOGUE_POSTGRES_URL to a database the tests may use): %v", url, err), err == nil)
	conn.Close(ctx)
	return url
}

// Schema names a schema no store uses yet, and drops it with everything in
// it when t ends, after everything opened later in t is closed.
func Schema(t testing.TB, url string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "vltest_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		// t's context is already cancelled while cleanups run.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		if err := Exec(ctx, url, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping test schema %s: %v", schema, err)
		}
	})
	return schema
}

// Exec runs one statement on a connection of its own.
func Exec(ctx context.Context, url, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}
