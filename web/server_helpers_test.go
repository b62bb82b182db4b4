package web

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/eventstore/pebble"
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
	store, err := pebble.Open(t.TempDir(), pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// Cheap hashes: the tests check behaviour, not the cost of argon2id.
	users := accounts.New(store, accounts.Config{Hash: auth.Params{Memory: 64, Time: 1, Threads: 1}}, nil)
	if err := users.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(users.Close)
	videos := catalog.New(store, nil)
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
		Store: store, Tokens: tokens, Users: users, Videos: videos, Annotations: annotations.New(store, videos),
	}, nil)
	users.OnSignInsEnded(func(ids []string) { socket.CloseSignIns(ids...) })
	cfg := Config{CookieSecret: secret, AuthBurst: 1000}
	for _, f := range configure {
		f(&cfg)
	}
	handler := New(cfg, Deps{Accounts: users, Videos: videos, Tokens: tokens, Socket: socket}, nil)
	srv := httptest.NewServer(withMedia(handler, 30))
	t.Cleanup(func() {
		_ = socket.Shutdown(ctx)
		srv.Close()
	})
	return &testServer{Server: srv, tokens: tokens}
}
