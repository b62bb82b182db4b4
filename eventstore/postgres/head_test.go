package postgres_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/videologue/videologue/audit"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/postgres"
	"github.com/videologue/videologue/internal/testenv/pgtest"
)

// Deleting the last events leaves a chain that holds on its own; the head
// row, moved in each append's transaction, still says where the log
// ended, and verify compares the two.
func TestVerifyComparesTheChainWithTheHeadRow(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	s := openStore(t, url, schema, postgres.Config{})
	ctx := t.Context()
	for i := range 10 {
		if _, err := s.Append(ctx, fmt.Sprintf("video-%d", i%3), eventstore.Any, eventstore.EventData{Type: "t", Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := audit.Verify(ctx, s, audit.Options{})
	if err != nil || rep.Head != 10 {
		t.Fatalf("verify of an intact log: %+v, %v", rep, err)
	}
	events := pgx.Identifier{schema, "events"}.Sanitize()
	for _, tc := range []struct {
		name, sql string
		head      uint64
	}{
		{"events above 7 deleted", "DELETE FROM " + events + " WHERE position > 7", 7},
		{"every event deleted", "DELETE FROM " + events, 0},
	} {
		if err := pgtest.Exec(ctx, url, tc.sql); err != nil {
			t.Fatal(err)
		}
		_, err := audit.Verify(ctx, s, audit.Options{})
		var he *audit.HeadError
		if !errors.As(err, &he) || he.Recorded != 10 || he.Head != tc.head {
			t.Fatalf("%s: verify says %v, want a HeadError at 10 with the log ending at %d", tc.name, err, tc.head)
		}
		t.Logf("%s: %v", tc.name, err)
	}
}
