package channels_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/personal"
)

const testSecret = "channels-test-secret-0123456789"

// env is a real server over a real store in a temporary directory. It can
// be stopped and started again on the same directory and address.
type env struct {
	t        testing.TB
	dir      string
	cfg      channels.Config
	nodeName string
	addr     string
	tinyTCP  bool // tiny socket buffers: a client that stops reading fills them at once
	tcpBuf   int  // with tinyTCP, the sockets' buffer size (default 4096)
	// wrapCommandStore, when set, stands between the annotation commands
	// and the log (to count their reads).
	wrapCommandStore func(annotations.Store) annotations.Store
	// keys, when set, seals and opens personal data as the server's do.
	keys *personal.Keyring

	store    *pebble.Store
	accounts *accounts.Service
	catalog  *catalog.Service
	tokens   *auth.Tokens
	node     *channels.Node
	srv      *channels.Server
	http     *httptest.Server
	running  bool
	userSeq  atomic.Int64
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("VIDEOLOGUE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// permissive is a Config for tests that post a lot: the rate limits and
// the socket cap stay out of the way.
func permissive() channels.Config {
	return channels.Config{
		PushRate: 10000, PushBurst: 10000, FloodStrikes: 1000, HubLinger: 200 * time.Millisecond,
		AddrPushRate: -1, JoinRate: -1, AddrJoinRate: -1, ConnectRate: -1, AddrConnectRate: -1,
		FrameRate: -1, MaxSocketsPerAddr: -1,
	}
}

func newEnv(t testing.TB, cfg channels.Config, opts ...func(*env)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), cfg: cfg, nodeName: "test-node"}
	for _, o := range opts {
		o(e)
	}
	e.start()
	t.Cleanup(func() {
		if e.running {
			e.stop()
		}
	})
	return e
}

func (e *env) start() {
	t := e.t
	t.Helper()
	ctx := t.Context()
	logger := testLogger(t)
	st, err := pebble.Open(e.dir, pebble.Config{CacheBytes: 8 << 20}, logger)
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	e.accounts = accounts.New(st, accounts.Config{Hash: auth.Params{Memory: 64, Time: 1, Threads: 1}}, logger)
	if err := e.accounts.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.catalog = catalog.New(st, e.keys, logger)
	if err := e.catalog.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.tokens, err = auth.NewTokens(auth.TokenConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	e.node, err = channels.StartNode(ctx, st, channels.NodeConfig{Name: e.nodeName, Exclusive: true}, logger)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Node = e.node.ID()
	e.srv = channels.New(cfg, channels.Deps{
		Store: st, Tokens: e.tokens, Users: e.accounts, Videos: e.catalog,
		Annotations: annotations.New(e.commandStore(st), e.catalog, nil),
		Keys:        e.keys,
	}, logger)
	e.accounts.OnSignInsEnded(func(ids []string) { e.srv.CloseSignIns(ids...) })
	e.catalog.OnDeleted(e.srv.CloseVideo)
	mux := http.NewServeMux()
	mux.Handle("/socket/websocket", e.srv)
	mux.Handle("/socket/longpoll", e.srv)
	e.http = httptest.NewUnstartedServer(mux)
	addr := e.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	for i := 0; ; i++ { // the port of a previous run may linger a moment
		ln, err = net.Listen("tcp", addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if e.tinyTCP {
		ln = tinyListener{ln, e.bufSize()}
	}
	e.http.Listener = ln
	e.http.Start()
	e.addr = ln.Addr().String()
	e.running = true
}

// stop shuts down gracefully, as SIGTERM does.
func (e *env) stop() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.t.Context()), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		e.t.Errorf("channels shutdown: %v", err)
	}
	if err := e.node.Stop(ctx); err != nil {
		e.t.Errorf("node stop: %v", err)
	}
	e.http.Close()
	e.accounts.Close()
	e.catalog.Close()
	if err := e.store.Close(); err != nil {
		e.t.Errorf("store close: %v", err)
	}
	e.running = false
}

func (e *env) restart() {
	e.t.Helper()
	e.stop()
	e.start()
}

func (e *env) url(query string) string {
	return "ws://" + e.addr + "/socket/websocket?" + query
}

// user registers a fresh user and returns its id, name and token.
func (e *env) user(prefix string) (int64, string, string) {
	e.t.Helper()
	name := fmt.Sprintf("%s%d", prefix, e.userSeq.Add(1))
	u, err := e.accounts.Register(e.t.Context(), name, "password-123", eventstore.Metadata{})
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID, u.Username, e.token(u.ID)
}

// token starts a sign-in of userID and returns a socket token for it.
func (e *env) token(userID int64) string {
	e.t.Helper()
	si, err := e.accounts.StartSignIn(e.t.Context(), userID, domain.SignInPage, time.Hour, eventstore.Metadata{})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.tokens.Sign(userID, si.ID)
}

func (e *env) video(userID int64) int64 {
	e.t.Helper()
	v, err := e.catalog.Add(e.t.Context(), userID, "A video", "https://example.com/v.mp4", eventstore.Metadata{})
	if err != nil {
		e.t.Fatal(err)
	}
	return v.ID
}

// logIDs returns the ids of the annotations posted to videoID, from the
// log itself.
func (e *env) logIDs(videoID int64) []int64 {
	e.t.Helper()
	var ids []int64
	for _, ev := range e.readStream(domain.VideoStream(videoID)) {
		if ev.Type == domain.TypeAnnotationPosted {
			ids = append(ids, domain.IDFromRevision(ev.Revision))
		}
	}
	return ids
}

func (e *env) readStream(stream string) []eventstore.RecordedEvent {
	e.t.Helper()
	evs, err := e.store.ReadStream(e.t.Context(), stream, eventstore.Forwards, 0, 1<<16)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// commandStore is the log as the annotation commands see it.
func (e *env) commandStore(st *pebble.Store) annotations.Store {
	if e.wrapCommandStore != nil {
		return e.wrapCommandStore(st)
	}
	return st
}

// post appends an annotation directly, as another node would.
func (e *env) post(videoID, userID int64, username, body string) int64 {
	e.t.Helper()
	id, err := annotations.New(e.store, nil, nil).Post(e.t.Context(), videoID, userID, username, body, 0, eventstore.Metadata{})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) appendEvent(stream, typ string, data any) {
	e.t.Helper()
	b, _ := json.Marshal(data)
	if _, err := e.store.Append(e.t.Context(), stream, eventstore.Any, eventstore.EventData{Type: typ, Data: b}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) bufSize() int {
	if e.tcpBuf > 0 {
		return e.tcpBuf
	}
	return 4096
}

// tinyListener shrinks the send buffer of accepted sockets.
type tinyListener struct {
	net.Listener
	size int
}

func (l tinyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}

func eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasPrefix(s, p string) bool { return strings.HasPrefix(s, p) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// swapHandler serves srv in place of the env's socket server.
func (e *env) swapHandler(t testing.TB, srv *channels.Server) {
	mux := http.NewServeMux()
	mux.Handle("/socket/websocket", srv)
	mux.Handle("/socket/longpoll", srv)
	e.http.Config.Handler = mux
}

// crash stops the server as a killed process would: the log is closed
// first, so nothing of the shutdown reaches it.
func (e *env) crash() {
	e.t.Helper()
	if err := e.store.Close(); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.t.Context()), 10*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
	_ = e.node.Stop(ctx)
	e.http.Close()
	e.accounts.Close()
	e.catalog.Close()
	e.running = false
}

func openStore(dir string) (*pebble.Store, error) { return pebble.Open(dir, pebble.Config{}, nil) }
