package web

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
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
	pkeys "github.com/videologue/videologue/personal/pebble"
	"github.com/videologue/videologue/projections"
)

// siteEnv is the whole site as serve wires it (pages, socket, API, the
// analysts' and auditors' routes over their read models) on a real log in
// a temp dir, with a user of each role and a playable video that has
// annotations: what the layout and navigation tests look at.
type siteEnv struct {
	t      testing.TB
	url    string
	store  *pebble.Store
	users  *accounts.Service
	videos *catalog.Service
	runner *projections.Engine
	ids    map[string]int64 // username -> id
	video  catalog.Video    // carol's, with annotations
	// youtube is dave's, a YouTube video.
	youtube catalog.Video
}

// siteUsers are the env's users and their roles; each one's password is
// "password-NAME-1".
var siteUsers = map[string]domain.Role{"alice": domain.RoleAnalyst, "bob": domain.RoleAuditor, "carol": domain.RoleViewer, "dave": domain.RoleAdmin}

func newSiteEnv(t testing.TB) *siteEnv {
	t.Helper()
	dir := t.TempDir()
	store, err := pebble.Open(filepath.Join(dir, "log"), pebble.Config{CacheBytes: 8 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ks, err := pkeys.Open(filepath.Join(dir, "keys"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	dk, _ := personal.DataKey("a test data key")
	keys, err := personal.NewKeyring(ks, dk)
	if err != nil {
		t.Fatal(err)
	}
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
	db, err := projections.Open(filepath.Join(dir, "readmodels"), projections.DBConfig{CacheBytes: 8 << 20, Keys: keys}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runner, err := projections.New(db, store, projections.Builtin(), projections.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		db.Close()
	})
	secret := []byte("a test secret, long enough")
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	notes := annotations.New(store, videos, keys)
	socket := channels.New(channels.Config{}, channels.Deps{Store: store, Tokens: tokens, Users: users, Videos: videos, Annotations: notes, Keys: keys}, nil)
	users.OnUserErased(socket.UserErased)
	users.OnSignInsEnded(func(ids []string) { socket.CloseSignIns(ids...) })
	videos.OnDeleted(socket.CloseVideo)
	handler := New(Config{CookieSecret: secret, AuthBurst: 1000}, Deps{
		Accounts: users, Videos: videos, Tokens: tokens, Socket: socket,
		Analysis: &AnalysisDeps{ReadModels: db, Users: users, Log: store},
	}, nil)
	srv := httptest.NewServer(withMedia(handler, 30))
	t.Cleanup(func() {
		_ = socket.Shutdown(ctx)
		srv.Close()
	})
	e := &siteEnv{t: t, url: srv.URL, store: store, users: users, videos: videos, runner: runner, ids: map[string]int64{}}
	for name, role := range siteUsers {
		u, err := users.Register(ctx, name, "password-"+name+"-1", eventstore.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		e.ids[name] = u.ID
		if role != domain.RoleViewer {
			if err := users.Grant(ctx, u.ID, role, 0, "", eventstore.Metadata{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if e.video, err = videos.Add(ctx, e.ids["carol"], "A walk through the launch talk, with a title long enough to wrap on a phone", srv.URL+mediaPath, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if e.youtube, err = videos.Add(ctx, e.ids["dave"], "Keynote", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	for i, body := range []string{"Watch the left side here", "This is the key moment: everything after it follows from the choice made here.", "Same pattern again"} {
		if _, err := notes.Post(ctx, e.video.ID, e.ids["carol"], "carol", body, int64(3000+4000*i), eventstore.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	e.sync()
	return e
}

// sync waits for the read models to apply the whole log.
func (e *siteEnv) sync() {
	e.t.Helper()
	last, err := e.store.ReadAll(e.t.Context(), eventstore.Backwards, eventstore.End, 1)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.t.Context(), 10*time.Second)
	defer cancel()
	if err := e.runner.WaitFor(ctx, last[0].Position); err != nil {
		e.t.Fatal(err)
	}
}

// signIn signs name in through the form in tb.
func (e *siteEnv) signIn(tb *tab, name string) {
	tb.t.Helper()
	tb.open(e.url + "/signin")
	if st := tb.fill([][2]string{{"#username", name}, {"#password", "password-" + name + "-1"}}, "main form button[type=submit]"); st != 200 {
		tb.fail("sign in "+name, errStatus(st))
	}
}
