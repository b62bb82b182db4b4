package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/internal/metrics"
	"github.com/videologue/videologue/personal"
	pkeys "github.com/videologue/videologue/personal/pebble"
	"github.com/videologue/videologue/web"
)

// Main is the running server: everything serve wires together, opened in
// Run and closed in Close, in the right order.
type Main struct {
	Config ServeConfig
	Logger *slog.Logger

	Store    eventstore.Store
	Accounts *accounts.Service
	Catalog  *catalog.Service
	Node     *channels.Node
	Socket   *channels.Server
	HTTP     *http.Server

	// ReadModels are the projections analysts and auditors query.
	ReadModels *ReadModels

	// Registry holds the Prometheus metrics served at /metrics.
	Registry *prometheus.Registry

	// Keys seals and opens personal data, and erases users.
	Keys      *personal.Keyring
	closeKeys func()
	keysDB    *pkeys.Store                    // the embedded key store, for backups; nil on PostgreSQL
	sock      atomic.Pointer[channels.Server] // Socket, for the accounts' follower

	closing  atomic.Bool // Close has begun: /readyz says 503
	listener net.Listener
	debug    *debugServer  // nil without DebugAddr
	admin    *adminServer  // nil on a shared store
	served   chan struct{} // closed when the HTTP server stops serving
	serveErr error         // why; valid once served is closed
}

// NewMain returns a Main for cfg; nothing is opened yet.
func NewMain(cfg ServeConfig, logger *slog.Logger) *Main {
	return &Main{Config: cfg, Logger: logger, served: make(chan struct{})}
}

// Run opens the log, builds the read models, records this node, and
// starts serving. It returns once the server listens.
func (m *Main) Run(ctx context.Context) error {
	var err error
	if m.Store, err = openStore(ctx, m.Config, 0, m.Logger); err != nil {
		return err
	}
	m.Registry = prometheus.NewRegistry()
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	met := metrics.New(m.Registry)
	// Everything but Close goes through the instrumented store, so that
	// each append is timed and counted; m.Store stays the backend itself.
	store := met.Store(m.Store)
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: []byte(m.Config.Secret)})
	if err != nil {
		return err
	}
	// Listen first: with --addr :0 the default public URL needs the port.
	if m.listener, err = net.Listen("tcp", m.Config.Addr); err != nil {
		return err
	}
	if m.Config.PublicURL == "" {
		m.Config.PublicURL = "http://" + m.listener.Addr().String()
	}
	if m.Config.LoadTest {
		m.Config.Edge.MaxConnsPerAddr = 0 // the load tool's sockets all come from one address
	}
	m.listener = web.LimitListener(m.listener, m.Config.Edge.MaxConnsPerAddr)
	var acfg accounts.Config
	if m.Config.Edge.MaxHashes > 0 {
		acfg.Hashing = auth.NewHashBound(m.Config.Edge.MaxHashes, m.Config.Edge.HashWait)
	}
	scfg := channels.Config{AllowedOrigins: m.Config.Origins, MaxSocketsPerAddr: m.Config.MaxSocketsPerAddr}
	if scfg.MaxSocketsPerAddr <= 0 {
		scfg.MaxSocketsPerAddr = -1
	}
	if len(scfg.AllowedOrigins) == 0 && m.Config.Env == "prod" {
		// Browsers open sockets from the public site; the request's Host
		// would also let in a page served under a rebinding name.
		scfg.AllowedOrigins = []string{publicHost(m.Config.PublicURL)}
	}
	wcfg := web.Config{Secure: m.Config.Env == "prod", CookieSecret: []byte(m.Config.Secret), PublicURL: m.Config.PublicURL}
	if m.Config.LoadTest {
		m.Logger.Warn("--load-test: rate limits lifted and password hashes cheap; never expose this server")
		acfg.Hash = auth.Params{Memory: 64, Time: 1, Threads: 1}
		acfg.Hashing = auth.NewHashBound(1024, m.Config.Edge.HashWait) // 64 KiB hashes: memory is no concern
		scfg.PushRate, scfg.PushBurst, scfg.FloodStrikes = 1e6, 1e6, 1e6
		scfg.AddrPushRate, scfg.JoinRate, scfg.AddrJoinRate, scfg.ConnectRate, scfg.AddrConnectRate, scfg.FrameRate, scfg.ReportRate = -1, -1, -1, -1, -1, -1, -1
		scfg.MaxSocketsPerAddr = -1
		wcfg.AuthRate, wcfg.AuthBurst = 1e6, 1e6
		wcfg.VideoRate, wcfg.VideoBurst = 1e6, 1e6
	}
	dataKey := m.Config.DataKey
	if dataKey == "" && m.Config.Env != "prod" { // a ServeConfig not from parseServe
		dataKey = devDataKey
	}
	if m.Keys, m.keysDB, m.closeKeys, err = openKeyring(ctx, m.Config.Data, m.Config.Store, dataKey, m.Logger); err != nil {
		return err
	}
	acfg.Keys = m.Keys
	m.Accounts = accounts.New(store, acfg, m.Logger)
	// An erasure applied on any node (or replayed at start, which erases
	// keys a restored backup still held) turns the user's annotations to
	// erased for this node's viewers.
	m.Accounts.OnUserErased(func(userID int64) {
		if s := m.sock.Load(); s != nil {
			s.UserErased(userID)
		}
	})
	if err := m.Accounts.Start(ctx); err != nil {
		return err
	}
	m.Catalog = catalog.New(store, m.Keys, m.Logger)
	if err := m.Catalog.Start(ctx); err != nil {
		return err
	}
	// The embedded log is locked to this process: any viewing still open
	// in it is a ghost of an earlier run. A shared log also holds the
	// viewings of live peers.
	if m.Config.Node == "" {
		m.Config.Node = defaultNodeName(m.Config)
	}
	if m.Config.Store.Shared() {
		m.warnLiveNamesake(ctx)
	}
	m.Node, err = channels.StartNode(ctx, store, channels.NodeConfig{
		Name: m.Config.Node, Addr: m.Config.Addr, HeartbeatInterval: m.Config.Heartbeat, Timeout: m.Config.NodeTimeout,
		Exclusive: !m.Config.Store.Shared(), Liveness: m.liveness(),
	}, m.Logger)
	if err != nil {
		return err
	}
	scfg.Node = m.Node.ID()
	scfg.Observer = met
	m.Socket = channels.New(scfg, channels.Deps{
		Store: store, Tokens: tokens, Users: m.Accounts, Videos: m.Catalog,
		Annotations: annotations.New(store, m.Catalog, m.Keys), Keys: m.Keys,
	}, m.Logger)
	m.sock.Store(m.Socket)
	// A sign-in ended on any node closes its sockets on this one.
	m.Accounts.OnSignInsEnded(func(ids []string) { m.Socket.CloseSignIns(ids...) })
	// A video deleted on any node ends its channel for the viewers on this one.
	m.Catalog.OnDeleted(m.Socket.CloseVideo)
	// Read models are local to this node (under --data), caught up from
	// the log at start and then followed live; their lag is on /metrics.
	if m.ReadModels, err = startReadModels(ctx, filepath.Join(m.Config.Data, "readmodels"), store, m.Keys, m.Registry, m.Logger); err != nil {
		return err
	}
	handler := web.New(wcfg, web.Deps{
		Accounts: m.Accounts, Videos: m.Catalog, Tokens: tokens, Socket: m.Socket,
		Metrics: metrics.Handler(m.Registry), Requests: met, Ready: m.ready,
		Analysis: &web.AnalysisDeps{ReadModels: m.ReadModels.DB, Users: m.Accounts, Log: store},
	}, m.Logger)
	met.Gauge("connections", "Open sockets.", func() float64 { return float64(m.Socket.Connections()) })
	edge := m.Config.Edge
	m.HTTP = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: orDuration(edge.ReadHeaderTimeout, 10*time.Second),
		ReadTimeout:       orDuration(edge.ReadTimeout, 30*time.Second),
		IdleTimeout:       orDuration(edge.IdleTimeout, 120*time.Second),
		MaxHeaderBytes:    edge.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		m.serveErr = m.HTTP.Serve(m.listener)
		close(m.served)
	}()
	m.startAdmin(store)
	if m.Config.DebugAddr != "" {
		if m.debug, err = startDebug(m.Config.DebugAddr); err != nil {
			return err
		}
		m.Logger.Info("profiler serving", "addr", m.debug.Addr())
	}
	m.Logger.Info("videologue serving", "addr", m.listener.Addr().String(), "public_url", m.Config.PublicURL, "store", m.Config.Store.Kind, "data", m.Config.Data, "node", m.Node.ID(), "env", m.Config.Env)
	return nil
}

// ready is /readyz: the log is open and can write, the hubs run until
// Close begins, and every read model follows the log. Each source of
// unreadiness adds its own error.
func (m *Main) ready() error {
	errs := []error{storeHealth(m.Store)}
	if m.closing.Load() {
		errs = append(errs, errors.New("shutting down"))
	}
	if m.ReadModels != nil {
		errs = append(errs, m.ReadModels.Err())
	}
	return errors.Join(errs...)
}

// Addr is where the server listens.
func (m *Main) Addr() string { return m.listener.Addr().String() }

// Served is closed when the HTTP server stops serving, on its own or by
// Close; ServeErr then says why.
func (m *Main) Served() <-chan struct{} { return m.served }

// ServeErr is the HTTP server's error once Served is closed.
func (m *Main) ServeErr() error { return m.serveErr }

// Close shuts down gracefully: stop accepting, close the sockets with
// "going away" once their viewers' departures are recorded, stop the
// hubs, record the node's stop, stop the read models, and close the log
// after its pending appends.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	m.closing.Store(true)
	var errs []error
	if m.admin != nil {
		m.admin.Close()
	}
	if m.debug != nil {
		m.debug.Close()
	}
	if m.HTTP == nil && m.listener != nil { // Run failed before serving
		_ = m.listener.Close()
	}
	if m.HTTP != nil {
		if err := m.HTTP.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		<-m.served
		if err := m.serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
	}
	if m.Socket != nil {
		if err := m.Socket.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("sockets: %w", err))
		}
	}
	if m.Node != nil {
		if err := m.Node.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if m.Accounts != nil {
		m.Accounts.Close()
	}
	if m.Catalog != nil {
		m.Catalog.Close()
	}
	if m.ReadModels != nil {
		if err := m.ReadModels.Close(); err != nil {
			errs = append(errs, fmt.Errorf("read models: %w", err))
		}
	}
	if m.Store != nil {
		if err := m.Store.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if m.closeKeys != nil {
		m.closeKeys()
	}
	return errors.Join(errs...)
}
