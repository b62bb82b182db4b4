package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/videologue/videologue/personal"
	pkeys "github.com/videologue/videologue/personal/pebble"
	pgkeys "github.com/videologue/videologue/personal/postgres"
)

// devDataKey wraps the users' keys in development only: --env prod
// refuses to start without VIDEOLOGUE_DATA_KEY.
const devDataKey = "videologue-development-data-key-do-not-use-in-production"

// dataKeyFromEnv is the configured data key, or the development one
// when allowed.
func dataKeyFromEnv(prod bool) (string, error) {
	k := os.Getenv("VIDEOLOGUE_DATA_KEY")
	switch {
	case k == "" && prod:
		return "", fmt.Errorf("refusing to start: --env prod needs VIDEOLOGUE_DATA_KEY, the key that encrypts the users' keys at rest (%s); keep it apart from backups of the data", makeSecretHint)
	case k == "":
		return devDataKey, nil
	case prod && k == devDataKey:
		return "", fmt.Errorf("refusing to start: VIDEOLOGUE_DATA_KEY is the development key (%s)", makeSecretHint)
	case prod:
		if err := checkSecret(k); err != nil {
			return "", fmt.Errorf("VIDEOLOGUE_DATA_KEY: %w", err)
		}
	}
	return k, nil
}

// keysDir is the embedded key store's directory, beside the log.
func keysDir(data string) string { return filepath.Join(data, "keys") }

// openKeyring opens the key store that goes with the log: a table in
// the log's PostgreSQL schema, or a pebble database in <data>/keys for
// the embedded log and for KurrentDB (which has no way to delete an
// event's bytes; see docs/SECURITY.md).
//
// The embedded key store is returned too (nil on PostgreSQL), for
// backups.
func openKeyring(ctx context.Context, data string, store StoreConfig, dataKey string, logger *slog.Logger) (*personal.Keyring, *pkeys.Store, func(), error) {
	dk, err := personal.DataKey(dataKey)
	if err != nil {
		return nil, nil, nil, err
	}
	var embedded *pkeys.Store
	var ks personal.Store
	var closeStore func()
	if store.Kind == storePostgres {
		schema := store.Schema
		if schema == "" {
			schema = "videologue"
		}
		s, err := pgkeys.Open(ctx, store.URL, schema)
		if err != nil {
			return nil, nil, nil, err
		}
		ks, closeStore = s, s.Close
	} else {
		if err := os.MkdirAll(data, 0o700); err != nil {
			return nil, nil, nil, fmt.Errorf("key store: %w", err)
		}
		s, err := pkeys.Open(keysDir(data), logger)
		if err != nil {
			return nil, nil, nil, err
		}
		ks, closeStore, embedded = s, func() { _ = s.Close() }, s
	}
	r, err := personal.NewKeyring(ks, dk)
	if err != nil {
		closeStore()
		return nil, nil, nil, err
	}
	return r, embedded, closeStore, nil
}
