package postgres_test

import (
	"testing"

	"github.com/videologue/videologue/eventstore/conformance"
	"github.com/videologue/videologue/internal/testenv/pgtest"
)

// Two nodes' stores see each other's leases, by the database's clock.
func TestLeases(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	conformance.RunLiveness(t, openStore(t, url, schema, noPoll), openStore(t, url, schema, noPoll))
}
