package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"

	"github.com/videologue/videologue/eventstore"
)

var _ eventstore.Store = (*Store)(nil)

// DefaultURL is the connection string Open uses when given none: a local
// single node in insecure mode, as docker-compose.yml runs it.
const DefaultURL = "kurrentdb://localhost:2113?tls=false"

// Config tunes the store. The zero value is usable.
type Config struct {
	// Prefix scopes the store to the KurrentDB streams whose names start
	// with it: Videologue's stream "video-1" is KurrentDB's stream
	// Prefix+"video-1", and ReadAll and SubscribeToAll see those streams
	// only. With no prefix the store owns every stream of the server
	// whose name does not start with '$' (KurrentDB's own streams). Nodes
	// that share one log use the same prefix.
	Prefix string
	// AvgEventBytes is what an event is assumed to take in KurrentDB's
	// log, to turn SubscribeOptions.MaxLag, a number of events here, into
	// positions, which grow with the bytes of the log (default 512).
	AvgEventBytes int
	// ScanPage is how many events one request reads from $all when the
	// store scans it (default 256).
	ScanPage int
}

func (c Config) withDefaults() Config {
	if c.AvgEventBytes <= 0 {
		c.AvgEventBytes = 512
	}
	if c.ScanPage <= 1 {
		c.ScanPage = 256
	}
	return c
}

// validPrefix: a prefix is a stream-name start that KurrentDB does not
// reserve.
func validPrefix(p string) error {
	if p == "" {
		return nil
	}
	if len(p) > 128 || !utf8.ValidString(p) || strings.HasPrefix(p, "$") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("invalid stream prefix %q: up to 128 bytes of UTF-8, no control characters, not starting with '$'", p)
	}
	return nil
}

// Store is the log on a KurrentDB server or cluster.
type Store struct {
	client *kurrentdb.Client
	cfg    Config
	logger *slog.Logger
	signal *eventstore.Signal
	// floor is a KurrentDB log position that no event of this store
	// precedes: scans of $all start or stop there (see Open).
	floor uint64

	mu      sync.RWMutex // guards closing against new operations
	closing bool
	ops     sync.WaitGroup // appends and reads under way
	closed  chan struct{}  // closed once Close starts: ends subscriptions

	life     context.Context // cancelled by Close: ends reads and the follower
	stop     context.CancelFunc
	followed chan struct{} // closed when the follower has ended

	leasesMu   sync.Mutex // guards leasesAged
	leasesAged bool       // the leases stream's $maxAge is set
}

// Open connects to the KurrentDB server or cluster at url (a kurrentdb://
// or kurrentdb+discover:// connection string; DefaultURL when empty),
// checks that it is recent enough, finds where this store's events begin
// in $all, and starts following $all for subscriptions. ctx bounds Open
// only: the store runs until Close.
func Open(ctx context.Context, url string, cfg Config, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	fail := func(err error) (*Store, error) {
		return nil, &eventstore.Error{Op: "open", Err: fmt.Errorf("KurrentDB: %w", err)}
	}
	if err := validPrefix(cfg.Prefix); err != nil {
		return fail(err)
	}
	if url == "" {
		url = DefaultURL
	}
	kcfg, err := kurrentdb.ParseConnectionString(url)
	if err != nil {
		return fail(fmt.Errorf("connection string: %w", err))
	}
	// The client logs every failed call, cancellations included, at its
	// error level: keep that out of the application's log unless asked.
	kcfg.Logger = func(level kurrentdb.LogLevel, format string, args ...any) {
		logger.Debug(fmt.Sprintf(format, args...), "kurrentdb_level", level)
	}
	client, err := kurrentdb.NewClient(kcfg)
	if err != nil {
		return fail(err)
	}
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	s := &Store{
		client:   client,
		cfg:      cfg,
		logger:   logger,
		closed:   make(chan struct{}),
		life:     life,
		stop:     stop,
		followed: make(chan struct{}),
	}
	live, head, err := s.start(ctx)
	if err != nil {
		stop()
		_ = client.Close()
		return fail(err)
	}
	s.signal = eventstore.NewSignal(head)
	go func() {
		defer close(s.followed)
		s.follow(life, live)
	}()
	return s, nil
}

// start checks the server, sets the floor, subscribes to what $all will
// receive, and reads the head of the log, in that order: an event appended
// after the head was read is then always seen by the follower.
func (s *Store) start(ctx context.Context) (*liveSub, uint64, error) {
	// The first call connects (the client discovers the node lazily); it
	// also gives the last event of the whole server log.
	last, err := s.lastOfServer(ctx)
	if err != nil {
		return nil, 0, err
	}
	v, err := s.client.GetServerVersion()
	if err != nil {
		return nil, 0, fmt.Errorf("server version: %w", err)
	}
	// Open finds the floor with a catch-up subscription that must end
	// with the server's caught-up message (23.10 and later send it).
	if !v.IsAtLeast(23, 10, 0) {
		return nil, 0, fmt.Errorf("server version %d.%d.%d: Videologue needs KurrentDB (or EventStoreDB 23.10 or later)", v.Major, v.Minor, v.Patch)
	}
	if s.floor, err = s.findFloor(ctx, last); err != nil {
		return nil, 0, err
	}
	live, err := s.subscribeLive(ctx)
	if err != nil {
		return nil, 0, err
	}
	head, err := s.readAllBackwards(ctx, eventstore.End, 1)
	if err != nil {
		live.close()
		return nil, 0, err
	}
	if len(head) == 0 {
		return live, 0, nil
	}
	return live, head[0].Position, nil
}

// Close waits for pending appends, cancels reads, ends subscriptions with
// ErrClosed, stops following $all and closes the connection.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return eventstore.ErrClosed
	}
	s.closing = true
	close(s.closed)
	s.mu.Unlock()
	s.stop()
	s.ops.Wait()
	<-s.followed
	return s.client.Close()
}

// begin registers an operation, or refuses it once Close has started. The
// caller calls the returned function when the operation ends.
func (s *Store) begin() (func(), error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closing {
		return nil, eventstore.ErrClosed
	}
	s.ops.Add(1)
	return s.ops.Done, nil
}

// readContext is ctx, also cancelled when the store closes.
func (s *Store) readContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.life, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// opError names why an operation on behalf of a caller whose context is
// ctx failed on KurrentDB with err: the caller's context ending, or the
// store closing (which cancels reads), or else err itself.
func (s *Store) opError(ctx context.Context, op, stream string, err error) error {
	switch {
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	case s.isClosed() && !errors.Is(err, eventstore.ErrClosed):
		err = fmt.Errorf("%w (%v)", eventstore.ErrClosed, err)
	}
	var e *eventstore.Error
	if errors.As(err, &e) {
		return err
	}
	return &eventstore.Error{Op: op, Stream: stream, Err: err}
}

// name is the KurrentDB stream of a Videologue stream.
func (s *Store) name(stream string) string { return s.cfg.Prefix + stream }

// streamOf is the Videologue stream of a KurrentDB stream, and false for a
// stream outside the store.
func (s *Store) streamOf(name string) (string, bool) {
	stream, ok := strings.CutPrefix(name, s.cfg.Prefix)
	if !ok || stream == leasesStream || eventstore.ValidateStream(stream) != nil {
		return "", false
	}
	return stream, true
}

// filter selects this store's streams in a subscription to $all, on the
// server.
func (s *Store) filter() *kurrentdb.SubscriptionFilter {
	if s.cfg.Prefix != "" {
		return &kurrentdb.SubscriptionFilter{Type: kurrentdb.StreamFilterType, Prefixes: []string{s.cfg.Prefix}}
	}
	return &kurrentdb.SubscriptionFilter{Type: kurrentdb.StreamFilterType, Regex: `^[^$]`}
}
