package main

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

// postgresURL is the database the tests may use: $VIDEOLOGUE_POSTGRES_URL,
// else the PostgreSQL of the development machines and CI. The test skips
// (fails under CI) when it does not answer.
func postgresURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("VIDEOLOGUE_POSTGRES_URL")
	if url == "" {
		url = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	testenv.Require(t, fmt.Sprintf("PostgreSQL at %s (set VIDEOLOGUE_POSTGRES_URL to a database the tests may use): %v", url, err), err == nil)
	conn.Close(ctx)
	return url
}

// freshSchema names a schema no store uses yet, and drops it when t ends,
// after everything opened later in t is closed.
func freshSchema(t testing.TB, url string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "vltest_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("dropping test schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping test schema %s: %v", schema, err)
		}
	})
	return schema
}
