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
}

// Deps are the services the socket stands on. All are required.
type Deps struct {
	Store       Store
	Tokens      Tokens
	Users       Users
	Videos      Videos
	Annotations Annotations
}

// Config tunes the socket. The zero value is usable.
type Config struct {
	// Node is the id of this process run, recorded with every viewer
	// (see Node.ID). Default "local".
	Node string
	// AllowedOrigins are the hosts ("example.com", "localhost:4000") a
	// browser may connect from. Empty: only the host the request was
	// sent to. Requests without an Origin header are always let in.
	AllowedOrigins []string
	// MaxFrameBytes bounds an inbound frame (default 32 KiB); a frame four
	// times larger closes the socket.
	MaxFrameBytes int
	// QueueSize is how many frames may wait for a slow client before it is
	// disconnected (default 256).
	QueueSize int
	// QueueBytes bounds what a connection holds for its client, queued or
	// being written: payloads, and a small cost per frame. A client that
	// would take it past the bound is disconnected (default 1 MiB).
	QueueBytes int
	// PageSize and PageBytes bound one page of a join's catch-up: the
	// join reply carries at most PageSize annotations (updated and
	// deleted ones included) in at most PageBytes of JSON (default 500
	// and 256 KiB), and the rest follows as pushes, a page at a time, each
	// once the connection has written the last. A page of pushes also
	// holds at most QueueSize/2 frames. PageBytes is at most
	// QueueBytes/4.
	PageSize  int
	PageBytes int
	// The rate limits are token buckets: so many a second, and at most
	// Burst at once. A user's and an address's buckets are kept by the
	// server until they are full again, whatever the sockets do. A zero
	// rate or burst is the default; a negative rate, no limit.
	//
	// PushRate and PushBurst limit each user's pushes, across their
	// connections (default 10 per second, burst 30); AddrPushRate and
	// AddrPushBurst, those of every user at one address together
	// (default 50, burst 150).
	PushRate      float64
	PushBurst     int
	AddrPushRate  float64
	AddrPushBurst int
	// JoinRate and JoinBurst limit each user's phx_join (default 2 per
	// second, burst 40: a reconnecting client rejoins all its channels at
	// once); AddrJoinRate and AddrJoinBurst, those from one address
	// (default 20, burst 200).
	JoinRate      float64
	JoinBurst     int
	AddrJoinRate  float64
	AddrJoinBurst int
	// ConnectRate and ConnectBurst limit each user's socket upgrades
	// (default 2 per second, burst 30); AddrConnectRate and
	// AddrConnectBurst, the upgrade requests from one address, counted
	// before the token is checked (default 20, burst 100). Over them, the
	// upgrade is refused with 429 and Retry-After.
	ConnectRate      float64
	ConnectBurst     int
	AddrConnectRate  float64
	AddrConnectBurst int
	// FrameRate and FrameBurst are each connection's budget of inbound
	// frames of every kind, heartbeats and pushes to unjoined topics
	// included (default 20 per second, burst 100; phoenix.js sends a
	// heartbeat every 30 s).
	FrameRate  float64
	FrameBurst int
	// FloodStrikes is how many frames a connection may have refused (by
	// its frame budget or by the push and join limits) since its last
	// admitted push or join; one more disconnects it (default 30).
	FloodStrikes int
	// MaxSocketsPerAddr bounds the sockets open at once from one address;
	// the next upgrade is refused with 429 (default 64; negative: no cap).
	MaxSocketsPerAddr int
	// MaxTopics bounds the channels joined on one connection (default 32).
	MaxTopics int
	// IdleTimeout closes a socket that sends nothing, not even a heartbeat,
	// for that long (default 75 s: two missed 30 s heartbeats).
	IdleTimeout time.Duration
	// PollTimeout is how long a long-poll GET waits for frames before it
	// answers 204 (default 10 s; phoenix.js gives up on a poll after its
	// longpollerTimeout, 20 s by default). A long-poll session that no
	// request has touched for twice that long ends (checked every
	// PollTimeout): its viewers leave.
	PollTimeout time.Duration
	// WriteTimeout bounds how long a client may leave the server's writes
	// waiting for room (default 10 s): a client that stops reading is cut
	// after it, one that reads slowly is not.
	WriteTimeout time.Duration
	// JoinTimeout bounds a join waiting for its video's hub to load
	// (default 10 s).
	JoinTimeout time.Duration
	// PresenceWindow is how long presence changes are gathered into one
	// presence_diff (default 50 ms).
	PresenceWindow time.Duration
	// HubLinger keeps a video's hub loaded this long after its last viewer
	// left, so that a rejoin does not reload it (default 10 s).
	HubLinger time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Observer is told of broadcasts and slow-client disconnects
	// (default: nobody).
	Observer Observer
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Node == "" {
		c.Node = "local"
	}
	def(&c.MaxFrameBytes, 32<<10)
	def(&c.QueueSize, 256)
	def(&c.QueueBytes, 1<<20)
	def(&c.PageSize, 500)
	def(&c.PageBytes, 256<<10)
	c.PageBytes = min(c.PageBytes, c.QueueBytes/4)
	defRate := func(r *float64, b *int, dr float64, db int) {
		if *r == 0 {
			*r = dr
		}
		if *b == 0 {
			*b = db
		}
	}
	defRate(&c.PushRate, &c.PushBurst, 10, 30)
	defRate(&c.AddrPushRate, &c.AddrPushBurst, 50, 150)
	defRate(&c.JoinRate, &c.JoinBurst, 2, 40)
	defRate(&c.AddrJoinRate, &c.AddrJoinBurst, 20, 200)
	defRate(&c.ConnectRate, &c.ConnectBurst, 2, 30)
	defRate(&c.AddrConnectRate, &c.AddrConnectBurst, 20, 100)
	defRate(&c.FrameRate, &c.FrameBurst, 20, 100)
	def(&c.FloodStrikes, 30)
	def(&c.MaxTopics, 32)
	if c.MaxSocketsPerAddr == 0 {
		c.MaxSocketsPerAddr = 64
	}
	defDur(&c.IdleTimeout, 75*time.Second)
	defDur(&c.WriteTimeout, 10*time.Second)
	defDur(&c.PollTimeout, 10*time.Second)
	defDur(&c.JoinTimeout, 10*time.Second)
	defDur(&c.PresenceWindow, 50*time.Millisecond)
	defDur(&c.HubLinger, 10*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	return c
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
		CheckOrigin:     func(*http.Request) bool { return true }, // checked before, in ServeHTTP
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
		s.limits.sockets.Release(addrKey)
		s.connsWG.Done()
		return // the upgrader has answered
	}
	c := newConn(s, ws, r, user, addrKey)
	if !s.track(c) {
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
	if vsn := r.URL.Query().Get("vsn"); vsn != "" && !strings.HasPrefix(vsn, "2.") {
		http.Error(w, "unsupported protocol version: this server speaks vsn=2.0.0", http.StatusBadRequest)
		return identity{}, "", false
	}
	if !s.originAllowed(r) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return identity{}, "", false
	}
	// Every connect request from an address counts, valid or not: the
	// work below is what the limit protects.
	addrKey = limit.AddrKey(r.RemoteAddr)
	if ok, wait := s.limits.connects.Addr.Reserve(addrKey, s.cfg.Now()); !ok {
		tooMany(w, wait, "too many connection attempts from your address: retry later")
		return identity{}, "", false
	}
	if token == "" {
		http.Error(w, "missing token", http.StatusForbidden)
		return identity{}, "", false
	}
	user, code, msg := s.authenticate(r.Context(), token)
	if code != 0 {
		http.Error(w, msg, code)
		return identity{}, "", false
	}
	if ok, wait := s.limits.connects.User.Reserve(user.id, s.cfg.Now()); !ok {
		tooMany(w, wait, "too many connections for this user: retry later")
		return identity{}, "", false
	}
	if !s.limits.sockets.Take(addrKey) {
		tooMany(w, 0, "too many open sockets from your address (at most %d): close some first", s.cfg.MaxSocketsPerAddr)
		return identity{}, "", false
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.limits.sockets.Release(addrKey)
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return identity{}, "", false
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
	return true
}

func (s *Server) untrack(c *conn) {
	c.qmu.Lock()
	peak := c.peakBytes
	c.qmu.Unlock()
	s.mu.Lock()
	delete(s.conns, c)
	s.peakQueued = max(s.peakQueued, peak)
	s.mu.Unlock()
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
