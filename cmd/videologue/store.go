package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/kurrentdb"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/eventstore/postgres"
)

// The backends serve can put the log in.
const (
	storeEmbedded  = "embedded"
	storePostgres  = "postgres"
	storeKurrentDB = "kurrentdb"
)

// StoreConfig says where the log lives.
type StoreConfig struct {
	// Kind is storeEmbedded (pebble, in --data), storePostgres or
	// storeKurrentDB.
	Kind string
	// URL is the connection string of PostgreSQL or KurrentDB.
	URL string
	// Schema is the PostgreSQL schema of the log: --store-schema, else a
	// schema=<name> parameter of the URL (removed before connecting),
	// else the backend's default.
	Schema string
}

// Shared reports whether the log may be shared by several processes: every
// backend except the embedded one, which a lock keeps to one process. The
// zero StoreConfig is the embedded log.
func (c StoreConfig) Shared() bool { return c.Kind == storePostgres || c.Kind == storeKurrentDB }

func addStoreFlags(fs *flag.FlagSet, c *StoreConfig) {
	fs.StringVar(&c.Kind, "store", storeEmbedded, "where the event log lives: embedded (in --data), postgres or kurrentdb")
	fs.StringVar(&c.URL, "store-url", os.Getenv("VIDEOLOGUE_STORE_URL"), "connection string of the postgres or kurrentdb store (default $VIDEOLOGUE_STORE_URL)")
	fs.StringVar(&c.Schema, "store-schema", "", "PostgreSQL schema of the log (default: schema=<name> in --store-url, else videologue); nodes sharing a log use the same one")
}

// check validates c once the flags are parsed and moves a schema given in
// a PostgreSQL URL into Schema.
func (c *StoreConfig) check() error {
	switch c.Kind {
	case storeEmbedded:
		if c.URL != "" && os.Getenv("VIDEOLOGUE_STORE_URL") != c.URL {
			return errors.New("--store-url needs --store postgres or kurrentdb")
		}
		c.URL = "" // an inherited VIDEOLOGUE_STORE_URL means nothing here
	case storePostgres:
		if c.URL == "" {
			return errors.New("--store postgres needs --store-url or VIDEOLOGUE_STORE_URL")
		}
		u, schema, err := splitSchema(c.URL)
		if err != nil {
			return err
		}
		c.URL = u
		if c.Schema == "" {
			c.Schema = schema
		}
	case storeKurrentDB:
		if c.URL == "" {
			return errors.New("--store kurrentdb needs --store-url or VIDEOLOGUE_STORE_URL")
		}
	default:
		return fmt.Errorf("--store must be embedded, postgres or kurrentdb, not %q", c.Kind)
	}
	if c.Schema != "" && c.Kind != storePostgres {
		return errors.New("--store-schema needs --store postgres")
	}
	return nil
}

// splitSchema removes a schema=<name> query parameter from a PostgreSQL
// URL: pgx would send it to the server as a setting, which PostgreSQL
// refuses. A key=value connection string is returned as it is.
func splitSchema(conn string) (rest, schema string, err error) {
	if !strings.HasPrefix(conn, "postgres://") && !strings.HasPrefix(conn, "postgresql://") {
		return conn, "", nil
	}
	u, err := url.Parse(conn)
	if err != nil {
		// Not the URL itself: it may hold a password.
		return "", "", errors.New("--store-url is not a valid PostgreSQL URL")
	}
	q := u.Query()
	schema = q.Get("schema")
	if !q.Has("schema") {
		return conn, "", nil
	}
	q.Del("schema")
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}

// openStore opens the log that cfg names. The embedded log lives in
// cfg.Data itself; cacheBytes is its block cache (0: the store's
// default).
func openStore(ctx context.Context, cfg ServeConfig, cacheBytes int64, logger *slog.Logger) (eventstore.Store, error) {
	return openStoreWith(ctx, cfg, pebble.Config{CacheBytes: cacheBytes}, logger)
}

// openStoreWith is openStore with the embedded log's whole Config.
func openStoreWith(ctx context.Context, cfg ServeConfig, embedded pebble.Config, logger *slog.Logger) (eventstore.Store, error) {
	// Each case returns its own nil on error: a nil *postgres.Store in the
	// interface would not be a nil eventstore.Store, and Close would panic.
	switch cfg.Store.Kind {
	case storePostgres:
		s, err := postgres.Open(ctx, cfg.Store.URL, postgres.Config{Schema: cfg.Store.Schema}, logger)
		if err != nil {
			return nil, err
		}
		return s, nil
	case storeKurrentDB:
		s, err := kurrentdb.Open(ctx, cfg.Store.URL, kurrentdb.Config{}, logger)
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		s, err := pebble.Open(cfg.Data, embedded, logger)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// defaultNodeName names this server when --node is not given. On the
// embedded log the host name is enough: one process per directory. On a
// shared log two processes with one name would each take the other's
// viewers for leftovers of its own earlier run, so the listening port is
// added: stable across restarts, distinct on one host.
func defaultNodeName(cfg ServeConfig) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	if !cfg.Store.Shared() {
		return host
	}
	if _, port, err := net.SplitHostPort(cfg.Addr); err == nil && port != "0" {
		return host + "-" + port
	}
	return fmt.Sprintf("%s-pid%d", host, os.Getpid())
}
