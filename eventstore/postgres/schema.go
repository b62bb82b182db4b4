package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrations create the tables, one schema version each; %[1]s is the
// quoted schema. A released migration never changes: a new version is
// appended instead.
var migrations = []string{
	1: `
CREATE TABLE %[1]s.events (
	position    bigint      PRIMARY KEY CHECK (position > 0),
	stream      text        NOT NULL,
	revision    bigint      NOT NULL CHECK (revision >= 0),
	id          text        NOT NULL UNIQUE,
	type        text        NOT NULL,
	data        bytea,
	metadata    bytea,
	recorded_at timestamptz NOT NULL,
	hash        bytea       NOT NULL CHECK (octet_length(hash) = 32),
	UNIQUE (stream, revision)
);
CREATE TABLE %[1]s.head (
	id       smallint PRIMARY KEY CHECK (id = 1),
	position bigint   NOT NULL,
	hash     bytea    NOT NULL CHECK (octet_length(hash) = 32)
);
INSERT INTO %[1]s.head (id, position, hash) VALUES (1, 0, '\x` + strings.Repeat("00", 32) + `'::bytea);
`,
	// The nodes' leases (leases.go): liveness outside the log.
	2: `
CREATE TABLE %[1]s.node_leases (
	node       text        PRIMARY KEY,
	expires_at timestamptz NOT NULL
);
`,
}

// schemaVersion is the version this build writes and reads.
var schemaVersion = len(migrations) - 1

// queries holds the statements of one schema.
type queries struct {
	channel string // the NOTIFY channel of the schema

	lockHead    string
	readHead    string
	headRow     string
	streamHeads string
	existingIDs string
	insert      string
	moveHead    string

	allForwards      string
	allBackwards     string
	streamForwards   string
	streamBackwards  string
	eventAtPosition  string
	listen           string
	migrationLockKey int64

	renewLease   string
	aliveLeases  string
	releaseLease string
}

const columns = "position, stream, revision, id, type, data, metadata, recorded_at, hash"

func newQueries(schema string) queries {
	s := pgx.Identifier{schema}.Sanitize()
	events, head := s+".events", s+".head"
	sum := sha256.Sum256([]byte("videologue eventstore " + schema))
	channel := "videologue_" + schema
	if len(channel) > 63 { // NAMEDATALEN - 1: longer channel names are refused
		channel = "videologue_" + hex.EncodeToString(sum[:16])
	}
	return queries{
		channel:  channel,
		lockHead: "SELECT position, hash FROM " + head + " WHERE id = 1 FOR UPDATE",
		readHead: "SELECT position FROM " + head + " WHERE id = 1",
		headRow:  "SELECT position, hash FROM " + head + " WHERE id = 1",
		// One index probe per stream, however long the stream.
		streamHeads: "SELECT s.stream, (SELECT e.revision FROM " + events + " e WHERE e.stream = s.stream ORDER BY e.revision DESC LIMIT 1)" +
			" FROM unnest($1::text[]) AS s(stream)",
		existingIDs: "SELECT id FROM " + events + " WHERE id = ANY($1::text[])",
		insert: "INSERT INTO " + events + " (" + columns + ")" +
			" SELECT p, s, r, i, t, d, m, $8::timestamptz, h" +
			" FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[], $7::bytea[], $9::bytea[]) AS u(p, s, r, i, t, d, m, h)",
		moveHead:         "UPDATE " + head + " SET position = $1, hash = $2 WHERE id = 1",
		allForwards:      "SELECT " + columns + " FROM " + events + " WHERE position >= $1 ORDER BY position LIMIT $2",
		allBackwards:     "SELECT " + columns + " FROM " + events + " WHERE position <= $1 ORDER BY position DESC LIMIT $2",
		streamForwards:   "SELECT " + columns + " FROM " + events + " WHERE stream = $1 AND revision >= $2 ORDER BY revision LIMIT $3",
		streamBackwards:  "SELECT " + columns + " FROM " + events + " WHERE stream = $1 AND revision <= $2 ORDER BY revision DESC LIMIT $3",
		eventAtPosition:  "SELECT id FROM " + events + " WHERE position = $1",
		listen:           "LISTEN " + pgx.Identifier{channel}.Sanitize(),
		migrationLockKey: int64(binary.BigEndian.Uint64(sum[:8])),
		// Expired leases of other nodes are removed as this one renews:
		// the table holds the nodes of the last minutes only.
		renewLease: "WITH gone AS (DELETE FROM " + s + ".node_leases WHERE expires_at < now() - interval '1 hour' AND node <> $1)" +
			" INSERT INTO " + s + ".node_leases (node, expires_at) VALUES ($1, now() + $2::float8 * interval '1 second')" +
			" ON CONFLICT (node) DO UPDATE SET expires_at = excluded.expires_at",
		aliveLeases:  "SELECT node FROM " + s + ".node_leases WHERE expires_at > now()",
		releaseLease: "DELETE FROM " + s + ".node_leases WHERE node = $1",
	}
}

// migrate brings schema to schemaVersion in one transaction. A
// transaction-level advisory lock serializes nodes that open the same
// schema at once.
func migrate(ctx context.Context, conn *pgx.Conn, schema string, q *queries) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", q.migrationLockKey); err != nil {
		return err
	}
	s := pgx.Identifier{schema}.Sanitize()
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return err
	}
	if !exists { // CREATE SCHEMA IF NOT EXISTS would need the right to create even when it exists
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+s); err != nil {
			return fmt.Errorf("creating schema %s: %w", schema, err)
		}
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+s+".schema_version (version integer NOT NULL)"); err != nil {
		return err
	}
	version := 0
	err = tx.QueryRow(ctx, "SELECT version FROM "+s+".schema_version").Scan(&version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, "INSERT INTO "+s+".schema_version (version) VALUES (0)"); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if version > schemaVersion {
		return fmt.Errorf("schema %s is at version %d, newer than this build's %d: upgrade Videologue", schema, version, schemaVersion)
	}
	if version == schemaVersion {
		return tx.Commit(ctx)
	}
	for v := version + 1; v <= schemaVersion; v++ {
		if _, err := tx.Exec(ctx, fmt.Sprintf(migrations[v], s)); err != nil {
			return fmt.Errorf("migrating schema %s to version %d: %w", schema, v, err)
		}
	}
	if _, err := tx.Exec(ctx, "UPDATE "+s+".schema_version SET version = $1", schemaVersion); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
