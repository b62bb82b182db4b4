package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

func serveCommand() command {
	return command{name: "serve", summary: "run the server (HTTP, JSON API, socket) on the embedded log or a shared store", run: runServe}
}

// devSecret signs tokens in development only: --env prod refuses it.
const devSecret = "videologue-development-secret-do-not-use-in-production"

// ServeConfig is what serve is told on its command line.
type ServeConfig struct {
	Addr    string
	Data    string
	Secret  string
	Env     string // "dev" or "prod"
	Origins []string
	Node    string
	Store   StoreConfig
	// Heartbeat and NodeTimeout: how often this node records that it is
	// alive, and after how much silence a node's viewers are closed.
	Heartbeat   time.Duration
	NodeTimeout time.Duration
	// LoadTest lifts the per-user and per-address rate limits and the cap
	// on connections per address, and makes password hashing cheap, so
	// that cmd/vlload can sign in thousands of users and post from
	// loopback. Development only.
	LoadTest bool
	// DebugAddr, if set, is a second listener serving Go's profiler
	// (/debug/pprof/), for operators; it has no authentication.
	DebugAddr string
	// MaxSocketsPerAddr bounds the sockets open at once from one client
	// address (0: no cap).
	MaxSocketsPerAddr int
	// PublicURL is the address browsers reach the site at (scheme, host,
	// optional port, no path); absolute links are built from it, never
	// from a request's Host header. Empty in dev: http://<listen address>.
	PublicURL string
	// Edge bounds what one client can hold of the HTTP server.
	Edge EdgeConfig
	// DataKey wraps the users' keys at rest: $VIDEOLOGUE_DATA_KEY,
	// required with --env prod.
	DataKey string
}

func parseServe(args []string, stderr io.Writer) (ServeConfig, error) {
	var c ServeConfig
	var origins string
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:4000", "address to listen on")
	fs.StringVar(&c.Data, "data", "./data", "directory of the embedded event log and of this node's own files (one per node; with a shared store, the log is elsewhere)")
	fs.StringVar(&c.Secret, "secret", os.Getenv("VIDEOLOGUE_SECRET"), "secret that signs tokens (default $VIDEOLOGUE_SECRET; required with --env prod)")
	fs.StringVar(&c.Env, "env", "dev", "dev or prod")
	fs.StringVar(&origins, "origin", "", "comma-separated hosts browsers may open sockets from (default: with --env prod the host of --public-url, in dev the host of the request)")
	fs.StringVar(&c.Node, "node", "", "name of this server, stable across restarts and unique among the running nodes of a shared store (default: the host name; with a shared store, host name and port)")
	fs.DurationVar(&c.Heartbeat, "heartbeat", 5*time.Second, "how often a node on a shared store renews its lease (PostgreSQL) or records a heartbeat in the log (KurrentDB); the embedded store needs none")
	fs.DurationVar(&c.NodeTimeout, "node-timeout", 15*time.Second, "silence after which a node is presumed dead and its viewers leave the presence list (checked every --heartbeat)")
	fs.BoolVar(&c.LoadTest, "load-test", false, "dev only: lifts every rate limit (pushes, joins, connects, frames, sign-ins, added videos), the caps on connections and sockets per address and the bound on password hashing, and makes hashes cheap, for cmd/vlload")
	fs.StringVar(&c.DebugAddr, "debug-addr", "", "address of a second listener serving Go's profiler at /debug/pprof/ (off by default; it has no authentication: bind it to localhost)")
	fs.IntVar(&c.MaxSocketsPerAddr, "max-sockets-per-addr", 64, "sockets open at once from one client address (an IPv6 /64); more are refused with 429 (0: no cap)")
	fs.StringVar(&c.PublicURL, "public-url", os.Getenv("VIDEOLOGUE_PUBLIC_URL"), "address browsers reach this site at, e.g. https://videologue.example; absolute links are built from it (default $VIDEOLOGUE_PUBLIC_URL; required with --env prod; dev default http://<addr>)")
	addEdgeFlags(fs, &c.Edge)
	addStoreFlags(fs, &c.Store)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := c.Store.check(); err != nil {
		return c, err
	}
	if err := c.Edge.check(); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for _, o := range strings.Split(origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.Origins = append(c.Origins, o)
		}
	}
	if c.PublicURL != "" {
		u, err := parsePublicURL(c.PublicURL)
		if err != nil {
			return c, err
		}
		c.PublicURL = u
	}
	switch c.Env {
	case "dev":
		// The development secret is in the repository: anyone who can
		// reach the server could forge a sign-in for any user.
		if !loopbackAddr(c.Addr) {
			return c, fmt.Errorf("refusing to start: development mode listens on loopback only (127.0.0.1, ::1 or localhost), not on %q; to serve other machines run with --env prod and a secret of your own in VIDEOLOGUE_SECRET (%s)", c.Addr, makeSecretHint)
		}
		if c.Secret == "" {
			c.Secret = devSecret
		}
	case "prod":
		if c.LoadTest {
			return c, errors.New("refusing to start: --load-test is for development only, not with --env prod")
		}
		if c.Secret == "" || c.Secret == devSecret {
			return c, fmt.Errorf("refusing to start: --env prod needs a secret of your own in --secret or VIDEOLOGUE_SECRET (%s)", makeSecretHint)
		}
		if err := checkSecret(c.Secret); err != nil {
			return c, err
		}
		if c.PublicURL == "" {
			return c, errors.New("refusing to start: --env prod needs --public-url or VIDEOLOGUE_PUBLIC_URL, the address browsers reach this site at (e.g. https://videologue.example): links the server hands out are built from it")
		}
	default:
		return c, fmt.Errorf("--env must be dev or prod, not %q", c.Env)
	}
	var err error
	if c.DataKey, err = dataKeyFromEnv(c.Env == "prod"); err != nil {
		return c, err
	}
	return c, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseServe(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if cfg.Secret == devSecret {
		logger.Warn("using the development secret: tokens and cookies are forgeable; set --secret or VIDEOLOGUE_SECRET")
	}
	m := NewMain(cfg, logger)
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case <-m.Served():
		logger.Error("server failed", "err", m.ServeErr())
	case <-storeFailed(m.Store):
		// The embedded log cannot write until it is reopened: exit
		// non-zero so that a supervisor restarts the server, which
		// starts again once the disk has room (docs/DEPLOYMENT.md).
		err := storeHealth(m.Store)
		logger.Error("shutting down: the event log cannot write", "err", err)
		m.Close()
		return err
	}
	return m.Close()
}
