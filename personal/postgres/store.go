// Package postgres keeps users' keys in a PostgreSQL table beside the
// log's (user_keys in the log's schema). Erase deletes the row and
// records the erasure in erased_users.
//
// A DELETE leaves the row's old version in the table's pages until
// VACUUM reclaims them, and in the write-ahead log and any WAL archive
// or base backup: outside what the server can reach. The keys are
// wrapped with the data key, so those copies read nothing without it;
// docs/SECURITY.md says what an operator does about them.
package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/videologue/videologue/personal"
)

// Store is a personal.Store in PostgreSQL.
type Store struct {
	pool       *pgxpool.Pool
	keys, gone string // quoted table names
}

var _ personal.Store = (*Store)(nil)

// Open connects to connString and creates the tables in schema if they
// are missing.
func Open(ctx context.Context, connString, schema string) (*Store, error) {
	pool, err := pgxpool.New(ctx, connString)
	if err != nil {
		return nil, fmt.Errorf("opening the key store: %w", err)
	}
	s := &Store{pool: pool, keys: pgx.Identifier{schema, "user_keys"}.Sanitize(), gone: pgx.Identifier{schema, "erased_users"}.Sanitize()}
	ddl := "CREATE SCHEMA IF NOT EXISTS " + pgx.Identifier{schema}.Sanitize() + ";" +
		"CREATE TABLE IF NOT EXISTS " + s.keys + " (user_id bigint PRIMARY KEY, wrapped bytea NOT NULL);" +
		"CREATE TABLE IF NOT EXISTS " + s.gone + " (user_id bigint PRIMARY KEY, erased_at timestamptz NOT NULL DEFAULT now())"
	// CREATE ... IF NOT EXISTS is not safe against itself: nodes started
	// together on a fresh schema each insert the table's type into the
	// catalog, and all but one fail on its unique index. A transaction-level
	// advisory lock of the schema's key store makes them take turns.
	lock := sha256.Sum256([]byte("videologue key store " + schema))
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(binary.BigEndian.Uint64(lock[:8]))); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, ddl)
		return err
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("creating the key store's tables: %w", err)
	}
	return s, nil
}

// Close closes the connections.
func (s *Store) Close() { s.pool.Close() }

// Get implements personal.Store.
func (s *Store) Get(ctx context.Context, userID int64) ([]byte, error) {
	var wrapped []byte
	var erased bool
	err := s.pool.QueryRow(ctx, "SELECT k.wrapped, EXISTS (SELECT 1 FROM "+s.gone+" WHERE user_id = $1) FROM (SELECT 1) AS one LEFT JOIN "+s.keys+" AS k ON k.user_id = $1", userID).Scan(&wrapped, &erased)
	switch {
	case err != nil:
		return nil, fmt.Errorf("reading the key of user %d: %w", userID, err)
	case erased:
		return nil, personal.ErrErased
	case wrapped == nil:
		return nil, personal.ErrNoKey
	}
	return wrapped, nil
}

// Create implements personal.Store: the first key inserted wins.
func (s *Store) Create(ctx context.Context, userID int64, wrapped []byte) ([]byte, error) {
	_, err := s.pool.Exec(ctx, "INSERT INTO "+s.keys+" (user_id, wrapped) SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM "+s.gone+" WHERE user_id = $1) ON CONFLICT (user_id) DO NOTHING", userID, wrapped)
	if err != nil {
		return nil, fmt.Errorf("keeping the key of user %d: %w", userID, err)
	}
	return s.Get(ctx, userID)
}

// Erase implements personal.Store.
func (s *Store) Erase(ctx context.Context, userID int64) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO "+s.gone+" (user_id) VALUES ($1) ON CONFLICT DO NOTHING", userID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DELETE FROM "+s.keys+" WHERE user_id = $1", userID)
		return err
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("erasing the key of user %d: %w", userID, err)
	}
	return err
}
