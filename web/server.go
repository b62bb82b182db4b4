// Package web is Videologue's HTTP edge: one chi router that mounts the
// socket (/socket/websocket, /socket/longpoll), the JSON API (/api, used by tools, tests and
// the load tool), the health and readiness checks (/healthz, /readyz),
// the Prometheus metrics (/metrics), and the HTML pages. Errors become HTTP
// statuses in exactly one place (writeError); clients never see internal
// error text.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/internal/limit"
)

// Accounts is what the web needs of the users and their sign-ins.
type Accounts interface {
	Register(ctx context.Context, username, password string, meta eventstore.Metadata) (accounts.User, error)
	Get(ctx context.Context, id int64) (accounts.User, error)
	// SignInWithPassword checks the password and starts a sign-in;
	// StartSignIn starts one without (right after Register).
	SignInWithPassword(ctx context.Context, username, password, via string, ttl time.Duration, meta eventstore.Metadata) (accounts.User, accounts.SignIn, error)
	StartSignIn(ctx context.Context, userID int64, via string, ttl time.Duration, meta eventstore.Metadata) (accounts.SignIn, error)
	// SignInLive says whether a cookie's or token's sign-in is live.
	SignInLive(ctx context.Context, userID int64, signIn string) (bool, error)
	SignOut(ctx context.Context, userID int64, signIn string, meta eventstore.Metadata) error
	SignOutEverywhere(ctx context.Context, userID int64, meta eventstore.Metadata) error
	// ChangePassword ends every sign-in of the user but keep.
	ChangePassword(ctx context.Context, userID int64, current, next, keep string, meta eventstore.Metadata) error
	// EraseSelf erases the user's account once password proves it theirs
	// (domain.ErrBadCredentials otherwise).
	EraseSelf(ctx context.Context, userID int64, password string, meta eventstore.Metadata) error
	UserAdmin // the admin page and API: api_admin.go
}

// Videos is what the web needs of the catalog.
type Videos interface {
	Add(ctx context.Context, userID int64, title, rawURL string, meta eventstore.Metadata) (catalog.Video, error)
	// Get returns a video; domain.ErrVideoDeleted for a deleted one.
	Get(ctx context.Context, id int64) (catalog.Video, error)
	// List returns one page of videos, newest first.
	List(ctx context.Context, q catalog.Query) catalog.Page
	// Update and Delete change a video on behalf of userID, whose roles
	// are given: domain.ErrForbidden unless they own it or are an admin.
	Update(ctx context.Context, id, userID int64, roles domain.Roles, title, rawURL string, meta eventstore.Metadata) (catalog.Video, error)
	Delete(ctx context.Context, id, userID int64, roles domain.Roles, meta eventstore.Metadata) error
}

// Tokens signs the tokens that the API hands out and verifies the bearer
// tokens it is given; the socket accepts the same tokens. Each names the
// sign-in it was minted for, which is checked live apart.
type Tokens interface {
	Sign(userID int64, signIn string) string
	Verify(token string) (userID int64, signIn string, err error)
}

// Deps are the services behind the routes.
type Deps struct {
	Accounts Accounts
	Videos   Videos
	Tokens   Tokens
	// Socket serves /socket/websocket and /socket/longpoll (a
	// *channels.Server); nil leaves them unmounted.
	Socket http.Handler
	// Metrics serves /metrics (Prometheus); nil leaves it unmounted.
	Metrics http.Handler
	// Requests is told of every request but the websocket's (metrics.go); nil: nobody.
	Requests RequestObserver
	// Ready says whether the server can serve: nil when it can, else why
	// not (shutting down, log closed). /readyz answers 503 with the reason.
	// Nil Ready means always ready.
	Ready func() error
	// Analysis serves the analysts' and auditors' routes (analyst.go, audit.go); nil leaves them unmounted.
	Analysis *AnalysisDeps
}

// Config tunes the edge. The zero value is usable.
type Config struct {
	// MaxBodyBytes bounds a JSON request body (default 64 KiB).
	MaxBodyBytes int64
	// AuthRate and AuthBurst limit registrations and sign-ins per client
	// address (default 1 per second, burst 10): password guessing is slow.
	AuthRate  float64
	AuthBurst int
	// VideoRate and VideoBurst limit how fast each user adds videos
	// (default one every 6 seconds, burst 10); each client address gets
	// three times as much, shared by its users.
	VideoRate  float64
	VideoBurst int
	// Secure marks that the site is served over HTTPS (cookies, headers).
	Secure bool
	// CookieSecret signs the pages' sign-in cookies and CSRF tokens (pass the server secret); empty: a random key per process.
	CookieSecret []byte
	// PublicURL is the origin the site is reached at (https://host[:port]),
	// from which every absolute link it hands out is built; a request's
	// Host header is never used, since any client can set it (default
	// http://localhost).
	PublicURL string
}

// Server is the HTTP handler of the whole site.
type Server struct {
	cfg    Config
	deps   Deps
	logger *slog.Logger
	router chi.Router
	auth   *addrLimiter
	// videoLimits bound adding videos, from the API and the pages.
	videoLimits *videoLimits
	// adminLimits bound admins' changes, from the API and the pages.
	adminLimits limit.UserAndAddr
}

// New builds the router.
func New(cfg Config, deps Deps, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.AuthRate <= 0 {
		cfg.AuthRate = 1
	}
	if cfg.AuthBurst <= 0 {
		cfg.AuthBurst = 10
	}
	if cfg.VideoRate <= 0 {
		cfg.VideoRate = 1.0 / 6
	}
	if cfg.VideoBurst <= 0 {
		cfg.VideoBurst = 10
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://localhost"
	}
	s := &Server{cfg: cfg, deps: deps, logger: logger, router: chi.NewRouter(), auth: newAddrLimiter(cfg.AuthRate, cfg.AuthBurst),
		videoLimits: newVideoLimits(cfg.VideoRate, cfg.VideoBurst), adminLimits: newAdminLimits()}
	r := s.router
	r.Use(s.logRequests, s.observeRequests, s.recoverer)
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if deps.Metrics != nil {
		r.Handle("/metrics", deps.Metrics)
	}
	if deps.Socket != nil {
		r.Handle("/socket/websocket", deps.Socket)
		r.Handle("/socket/longpoll", deps.Socket) // the same Server: see channels' longpoll.go
	}
	s.mountAnalysis(r) // analysts and auditors: analyst.go, audit.go
	r.Route("/api", s.mountAPI)
	s.mountPages(r) // the HTML pages: pages*.go
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz tells load balancers whether to send traffic here: 503 while
// the server shuts down or its log is closed, so they stop before the
// sockets are told to go away.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.deps.Ready != nil {
		if err := s.deps.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
}

// recoverer turns a handler's panic into a 500 and a log line with the
// stack, so that one bad request does not end the process.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.Error("handler panicked", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeError(w, r, s.logger, errPanic)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
