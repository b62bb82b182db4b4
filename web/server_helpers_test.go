package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/personal"
	pkeys "github.com/videologue/videologue/personal/pebble"
)

// testServer is the whole site, wired as serve wires it, over a real store
// in a temp dir, on httptest; it also serves a short silent WAV at
// mediaPath for the watch page to play.
type testServer struct {
	*httptest.Server
	tokens *auth.Tokens
}

func newTestServer(t testing.TB, configure ...func(*Config)) *testServer {
	t.Helper()
	return newWrappedTestServer(t, nil, configure...)
}

// newWrappedTestServer is newTestServer with its handler wrapped by wrap
// (nil: not wrapped), for a test that stands in for the network between.
func newWrappedTestServer(t testing.TB, wrap func(http.Handler) http.Handler, configure ...func(*Config)) *testServer {
	t.Helper()
	store, err := pebble.Open(t.TempDir(), pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ks, err := pkeys.Open(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	dk, _ := personal.DataKey("a test data key")
	keys, err := personal.NewKeyring(ks, dk)
	if err != nil {
		t.Fatal(err)
	}
	// Cheap hashes: the tests check behaviour, not the cost of argon2id.
	users := accounts.New(store, accounts.Config{Hash: auth.Params{Memory: 64, Time: 1, Threads: 1}, Keys: keys}, nil)
	if err := users.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(users.Close)
	videos := catalog.New(store, nil, nil)
	if err := videos.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(videos.Close)
	secret := []byte("a test secret, long enough")
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	socket := channels.New(channels.Config{}, channels.Deps{
		Store: store, Tokens: tokens, Users: users, Videos: videos, Annotations: annotations.New(store, videos, keys), Keys: keys,
	}, nil)
	users.OnUserErased(socket.UserErased)
	users.OnSignInsEnded(func(ids []string) { socket.CloseSignIns(ids...) })
	videos.OnDeleted(socket.CloseVideo)
	cfg := Config{CookieSecret: secret, AuthBurst: 1000}
	for _, f := range configure {
		f(&cfg)
	}
	handler := New(cfg, Deps{Accounts: users, Videos: videos, Tokens: tokens, Socket: socket}, nil)
	var h http.Handler = withMedia(handler, 30)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		_ = socket.Shutdown(ctx)
		srv.Close()
	})
	return &testServer{Server: srv, tokens: tokens}
}
