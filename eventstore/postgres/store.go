package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/videologue/videologue/eventstore"
)

var _ eventstore.Store = (*Store)(nil)

// Config tunes the store. The zero value is usable.
type Config struct {
	// Schema holds the log's tables (default "videologue"); Open creates
	// it. Nodes that share one log open the same schema.
	Schema string
	// MaxGroupEvents caps the events of one group commit (default 4096).
	MaxGroupEvents int
	// MaxGroupBytes caps the bytes of one group commit (default 8 MiB); an
	// append larger than that is committed alone.
	MaxGroupBytes int
	// PollInterval is how long the listener waits for a notification
	// before it reads the head of the log anyway (default 2s): the safety
	// net for a notification that never came.
	PollInterval time.Duration
	// MaxConns bounds the pool that reads use (default: pgxpool's,
	// the larger of 4 and the number of CPUs). The committer and the
	// listener each hold one more connection.
	MaxConns int32
}

func (c Config) withDefaults() Config {
	if c.Schema == "" {
		c.Schema = "videologue"
	}
	if c.MaxGroupEvents <= 0 {
		c.MaxGroupEvents = 4096
	}
	if c.MaxGroupBytes <= 0 {
		c.MaxGroupBytes = 8 << 20
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 2 * time.Second
	}
	return c
}

// Store is the log in one PostgreSQL schema.
type Store struct {
	pool    *pgxpool.Pool
	connCfg *pgx.ConnConfig // for the committer's and the listener's own connections
	cfg     Config
	q       queries
	logger  *slog.Logger
	signal  *eventstore.Signal

	mu      sync.RWMutex // guards closing against sends on reqs
	closing bool
	reqs    chan *appendReq
	closed  chan struct{} // closed once Close starts: ends subscriptions

	stop      context.CancelFunc // ends the listener
	committed chan struct{}      // closed when the committer has ended
	listened  chan struct{}      // closed when the listener has ended
}

// Open connects to the database at connString (a PostgreSQL URL or
// key=value string), creates or migrates the log's schema, and starts the
// committer and the listener. ctx bounds Open only: the store runs until
// Close.
func Open(ctx context.Context, connString string, cfg Config, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if len(cfg.Schema) > 63 || strings.IndexByte(cfg.Schema, 0) >= 0 { // PostgreSQL would truncate or refuse the name
		return nil, &eventstore.Error{Op: "open", Err: fmt.Errorf("schema name %q: at most 63 bytes, no NUL", cfg.Schema)}
	}
	pcfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, &eventstore.Error{Op: "open", Err: fmt.Errorf("connection string: %w", err)}
	}
	// Append promises durability: never let the server's default weaken it.
	pcfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	if pcfg.ConnConfig.RuntimeParams["application_name"] == "" {
		pcfg.ConnConfig.RuntimeParams["application_name"] = "videologue"
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	s := &Store{
		connCfg:   pcfg.ConnConfig.Copy(),
		cfg:       cfg,
		q:         newQueries(cfg.Schema),
		logger:    logger,
		reqs:      make(chan *appendReq, 1024),
		closed:    make(chan struct{}),
		committed: make(chan struct{}),
		listened:  make(chan struct{}),
	}
	where := fmt.Sprintf("PostgreSQL at %s:%d, database %q, schema %q", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, pcfg.ConnConfig.Database, cfg.Schema)
	fail := func(err error) (*Store, error) {
		return nil, &eventstore.Error{Op: "open", Err: fmt.Errorf("%s: %w", where, err)}
	}

	// The committer's connection migrates, so that a server that refuses
	// connections fails Open before anything else starts.
	conn, err := pgx.ConnectConfig(ctx, s.roleConfig("committer"))
	if err != nil {
		return fail(err)
	}
	if err := migrate(ctx, conn, cfg.Schema, &s.q); err != nil {
		conn.Close(ctx)
		return fail(err)
	}
	// LISTEN before reading the head: a commit after that read is then
	// always notified.
	listener, err := s.connectListener(ctx)
	if err != nil {
		conn.Close(ctx)
		return fail(err)
	}
	var head int64
	if err := listener.QueryRow(ctx, s.q.readHead).Scan(&head); err != nil {
		conn.Close(ctx)
		listener.Close(ctx)
		return fail(err)
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		conn.Close(ctx)
		listener.Close(ctx)
		return fail(err)
	}
	s.signal = eventstore.NewSignal(uint64(head))

	// The store's goroutines outlive Open's ctx: they run until Close.
	run, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	c := &committer{s: s, conn: conn, hasher: eventstore.NewChainHasher()}
	go func() {
		defer close(s.committed)
		c.run(run)
	}()
	go func() {
		defer close(s.listened)
		s.listen(run, listener)
	}()
	return s, nil
}

// Close finishes pending appends, ends subscriptions with ErrClosed, stops
// the listener and closes the connections.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return eventstore.ErrClosed
	}
	s.closing = true
	close(s.closed)
	close(s.reqs)
	s.mu.Unlock()
	<-s.committed
	s.stop()
	<-s.listened
	s.pool.Close()
	return nil
}

// roleConfig is the configuration of the committer's or the listener's own
// connection, named after its role so that an operator can tell it in
// pg_stat_activity.
func (s *Store) roleConfig(role string) *pgx.ConnConfig {
	cfg := s.connCfg.Copy()
	name := cfg.RuntimeParams["application_name"] + " " + role + " " + s.cfg.Schema
	cfg.RuntimeParams["application_name"] = name[:min(len(name), 63)]
	return cfg
}

// isClosed reports whether Close has started.
func (s *Store) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}
