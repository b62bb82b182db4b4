package channels

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/internal/limit"
	"github.com/videologue/videologue/personal"
)

// Store is what the channels need of the log.
type Store interface {
	// Append records viewers joining and leaving and the node's life.
	Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error)
	// SubscribeToStream feeds the hubs.
	SubscribeToStream(ctx context.Context, stream string, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error)
	// SubscribeToAll feeds the Node's index of open viewings and node
	// lives, from which it closes the viewings of dead nodes.
	SubscribeToAll(ctx context.Context, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error)
}

// Tokens verifies the signed token a client connects with.
type Tokens interface {
	// Verify returns the user id the token names and the sign-in it was
	// minted for, or an error when it is forged, malformed or expired.
	Verify(token string) (userID int64, signIn string, err error)
}

// Users names the users who connect and says whether their sign-ins are
// live.
type Users interface {
	Username(ctx context.Context, userID int64) (string, error)
	// SignInLive reports whether signIn is a live sign-in of userID; the
	// error is the log's, when it cannot tell.
	SignInLive(ctx context.Context, userID int64, signIn string) (bool, error)
	// Moderator reports whether userID may hide items and dismiss
	// reports.
	Moderator(ctx context.Context, userID int64) (bool, error)
}

// Videos tells which videos have a channel, and records the durations
// viewers' players report.
type Videos interface {
	Exists(ctx context.Context, videoID int64) (bool, error)
	// ReportDuration records that the video lasts at least ms
	// milliseconds when that raises what is known; a bad value is a
	// *domain.ValidationError.
	ReportDuration(ctx context.Context, videoID, userID, ms int64, meta eventstore.Metadata) error
}

// Annotations runs the commands that the video channel's pushes carry.
// Each returns once its event is durable; rule violations are
// *domain.ValidationError or the domain sentinels.
type Annotations interface {
	// PostRange posts a note at moment at, covering duration
	// milliseconds from there (0: an instant).
	PostRange(ctx context.Context, videoID, userID int64, username, body string, at, duration int64, meta eventstore.Metadata) (int64, error)
	// EditSeen and DeleteSeen take the video revision as of which the
	// hub showed the annotation live and the user's (-1: not known), so
	// that the change can be appended without reading the video's
	// history; the log still decides.
	EditSeen(ctx context.Context, videoID, id, userID int64, body string, seen int64, meta eventstore.Metadata) error
	DeleteSeen(ctx context.Context, videoID, id, userID, seen int64, meta eventstore.Metadata) error
	Replies
}

// Deps are the services the socket stands on. All are required.
type Deps struct {
	Store       Store
	Tokens      Tokens
	Users       Users
	Videos      Videos
	Annotations Annotations
	// Keys seals the viewer's name and device and the client address of
	// the events the socket appends, and opens what the hubs fold. Nil:
	// plaintext (the one optional dependency).
	Keys *personal.Keyring
}

// Server is the socket endpoint. Serve it at /socket/websocket and
// /socket/longpoll.
type Server struct {
	cfg      Config
	deps     Deps
	logger   *slog.Logger
	upgrader websocket.Upgrader
	hubs     *hubs
	limits   *limits
	flusher  *flusher

	mu         sync.Mutex
	conns      map[*conn]struct{}
	polls      map[string]*conn // the long-poll sessions, by pollSession.id
	pollKey    []byte           // signs long-poll session tokens; this process's own
	peakQueued int              // the most bytes a closed connection held for its client (see conn.qbytes)
	closing    bool
	connsWG    sync.WaitGroup
	shutdown   chan struct{} // closed when Shutdown starts
}

// New returns a socket server.
func New(cfg Config, deps Deps, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg: cfg, deps: deps, logger: logger,
		conns:    make(map[*conn]struct{}),
		polls:    make(map[string]*conn),
		pollKey:  newPollKey(),
		shutdown: make(chan struct{}),
		limits:   newLimits(cfg),
		flusher:  newFlusher(logger),
	}
	s.hubs = newHubs(s)
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// Clients send small frames (pushes, heartbeats): a 256-byte
		// buffer, not the 4 KiB net/http read the request with, which
		// goes with the handler (see ServeHTTP). Every idle connection
		// keeps it; a larger frame is read past it, straight into the
		// message. The writer writes its own frames (see the flusher);
		// gorilla's write buffer serves only control frames, from a pool.
		ReadBufferSize:  256,
		WriteBufferSize: 256,
		WriteBufferPool: &sync.Pool{},
		Subprotocols:    []string{"phoenix"},
		// Presence frames go compressed to the clients that offer it
		// (deflate.go); gorilla decompresses what clients send.
		EnableCompression: true,
		CheckOrigin:       func(*http.Request) bool { return true }, // checked before, in ServeHTTP
	}
	return s
}

// authTokenPrefix marks the subprotocol that carries a token.
const authTokenPrefix = "base64url.bearer.phx."

// ServeHTTP authenticates a socket request and then serves the socket
// until it closes. A request to a path ending in /longpoll is served by
// the long-poll transport (see longpoll.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/longpoll") {
		s.serveLongPoll(w, r)
		return
	}
	user, addrKey, ok := s.admitConnect(w, r, requestToken(r))
	if !ok {
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.cfg.Observer.Connect(WebSocket, RefusedValidation)
		s.limits.sockets.Release(addrKey)
		s.connsWG.Done()
		return // the upgrader has answered
	}
	c := newConn(s, ws, r, user, addrKey)
	if !s.track(c) {
		s.cfg.Observer.Connect(WebSocket, RefusedUnavailable)
		c.shut(websocket.CloseGoingAway, "server shutting down", false)
	} else {
		s.recheckSignIn(r.Context(), c)
	}
	// The socket is served by a goroutine of the Server's (Shutdown waits
	// for it), not by net/http's: once this handler returns, net/http lets
	// go of the request and the connection's buffers, which an idle socket
	// would otherwise hold for its whole life.
	go func() {
		defer s.connsWG.Done()
		c.serve(context.Background())
		s.untrack(c)
		s.limits.sockets.Release(addrKey)
	}()
}

// admitConnect checks a request for a new connection, of either
// transport, with its user token: protocol version, origin, the connect
// limits, the token and the address's cap on open connections. It
// answers the refusals itself. When it admits, the caller holds one of
// the address's slots and one count of connsWG, and must give both back
// when the connection ends.
func (s *Server) admitConnect(w http.ResponseWriter, r *http.Request, token string) (user identity, addrKey string, ok bool) {
	refused := func(o Outcome) (identity, string, bool) {
		s.cfg.Observer.Connect(requestTransport(r), o)
		return identity{}, "", false
	}
	if vsn := r.URL.Query().Get("vsn"); vsn != "" && !strings.HasPrefix(vsn, "2.") {
		http.Error(w, "unsupported protocol version: this server speaks vsn=2.0.0", http.StatusBadRequest)
		return refused(RefusedValidation)
	}
	if !s.originAllowed(r) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return refused(RefusedForbidden)
	}
	// Every connect request from an address counts, valid or not: the
	// work below is what the limit protects.
	addrKey = limit.AddrKey(r.RemoteAddr)
	if ok, wait := s.limits.connects.Addr.Reserve(addrKey, s.cfg.Now()); !ok {
		tooMany(w, wait, "too many connection attempts from your address: retry later")
		return refused(RefusedRateLimit)
	}
	if token == "" {
		http.Error(w, "missing token", http.StatusForbidden)
		return refused(RefusedAuth)
	}
	user, code, msg := s.authenticate(r.Context(), token)
	if code != 0 {
		http.Error(w, msg, code)
		return refused(connectOutcome(code))
	}
	if ok, wait := s.limits.connects.User.Reserve(user.id, s.cfg.Now()); !ok {
		tooMany(w, wait, "too many connections for this user: retry later")
		return refused(RefusedRateLimit)
	}
	if !s.limits.sockets.Take(addrKey) {
		tooMany(w, 0, "too many open sockets from your address (at most %d): close some first", s.cfg.MaxSocketsPerAddr)
		return refused(RefusedRateLimit)
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.limits.sockets.Release(addrKey)
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return refused(RefusedUnavailable)
	}
	s.connsWG.Add(1)
	s.mu.Unlock()
	return user, addrKey, true
}

// requestToken finds the token in the query or in the subprotocols.
func requestToken(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	for _, p := range websocket.Subprotocols(r) {
		enc, ok := strings.CutPrefix(p, authTokenPrefix)
		if !ok {
			continue
		}
		// The JS client uses btoa without padding; accept either alphabet.
		enc = strings.TrimRight(enc, "=")
		for _, e := range []*base64.Encoding{base64.RawURLEncoding, base64.RawStdEncoding} {
			if b, err := e.DecodeString(enc); err == nil {
				return string(b)
			}
		}
	}
	return ""
}

func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if len(s.cfg.AllowedOrigins) == 0 {
		return strings.EqualFold(u.Host, r.Host)
	}
	host := u.Hostname()
	for _, allowed := range s.cfg.AllowedOrigins {
		// An allowed host without a port admits every port of it.
		if strings.EqualFold(allowed, u.Host) || (!strings.Contains(allowed, ":") && strings.EqualFold(allowed, host)) {
			return true
		}
	}
	return false
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.cfg.Observer.Connect(WebSocket, OK)
	return true
}

func (s *Server) untrack(c *conn) {
	c.qmu.Lock()
	peak := c.peakBytes
	c.qmu.Unlock()
	s.mu.Lock()
	_, tracked := s.conns[c]
	delete(s.conns, c)
	s.peakQueued = max(s.peakQueued, peak)
	s.mu.Unlock()
	if tracked {
		s.cfg.Observer.Disconnected(WebSocket)
	}
}

// Connections is the number of open sockets.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown refuses new sockets, closes every open one with 1001 ("going
// away") so that clients reconnect, waits until each has recorded its
// viewers leaving, then stops the hubs. It returns ctx's error if that
// takes longer than ctx allows (the hubs are stopped regardless).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return errors.New("channels: already shut down")
	}
	s.closing = true
	close(s.shutdown)
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shut(websocket.CloseGoingAway, "server shutting down", false)
	}
	done := make(chan struct{})
	go func() { s.connsWG.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		for _, c := range conns { // stop waiting politely
			c.shut(websocket.CloseGoingAway, "server shutting down", true)
		}
		<-done
	}
	s.flusher.close()
	s.hubs.close()
	return err
}
