package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

func TestLocalPathRefusesOtherSites(t *testing.T) {
	for _, next := range []string{
		"//evil.example", "///evil.example", "/\\evil.example", "\\/evil.example", "\\\\evil.example",
		"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "\t//evil.example", " //evil.example",
		"/\t\\evil.example", "/%2F%2Fevil.example", "/%2fevil.example", "/%5Cevil.example", "/%09/evil.example",
		"https:evil.example", "https://evil.example", "http:/evil.example", "javascript:alert(1)", "evil.example",
		"", "?next=/", "#x", "/\x00/evil", "/a\x7fb", "\x01//evil.example", "//evil.example/%2e%2e",
	} {
		if got := localPath(next); got != "" {
			t.Errorf("localPath(%q) = %q, want refused", next, got)
		}
	}
	for next, want := range map[string]string{
		"/videos":          "/videos",
		"/videos?mine=1":   "/videos?mine=1",
		"/watch/3#t=10":    "/watch/3#t=10",
		"/a/b%20c":         "/a/b%20c",
		" /videos\n":       "/videos",
		"/vid\teos":        "/videos",
		"/a\\b":            "/a/b",
		"/caf\u00e9":       "/caf%C3%A9",
		"/v/../videos?x=y": "/v/../videos?x=y",
	} {
		if got := localPath(next); got != want {
			t.Errorf("localPath(%q) = %q, want %q", next, got, want)
		}
	}
}

// After signing in or registering, a hostile ?next= leads to the videos,
// never to another site.
func TestSignInNextStaysOnSite(t *testing.T) {
	srv := newTestServer(t)
	hostile := "/\t/evil.example"
	reg := srv.browser(t)
	resp, body := reg.submit("/register?next="+url.QueryEscape(hostile), "/register",
		url.Values{"username": {"hopper"}, "password": {"good password 1"}, "next": {hostile}})
	expect(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/videos" {
		t.Fatalf("after register with next=%q: Location %q", hostile, loc)
	}
	for _, next := range []string{hostile, "/\\evil.example", "/%2F%2Fevil.example"} {
		b := srv.browser(t)
		resp, body := b.submit("/signin?next="+url.QueryEscape(next), "/signin",
			url.Values{"username": {"hopper"}, "password": {"good password 1"}, "next": {next}})
		expect(t, resp, body, http.StatusSeeOther)
		if loc := resp.Header.Get("Location"); loc != "/videos" {
			t.Fatalf("after sign-in with next=%q: Location %q", next, loc)
		}
	}
}

func TestStaticListsNoDirectory(t *testing.T) {
	srv := newTestServer(t)
	b := srv.browser(t)
	for _, p := range []string{"/static/", "/static", "/static/.", "/static//", "/static/%2e/"} {
		resp, body := b.get(p)
		if resp.StatusCode != http.StatusNotFound || strings.Contains(body, `href="app.css"`) {
			t.Errorf("GET %s: %d, want 404 without a listing\n%.300s", p, resp.StatusCode, body)
		}
	}
	resp, body := b.get("/static/app.css")
	expect(t, resp, body, http.StatusOK)
}

// edgeEnv is the site over a real store with the accounts' hashing bound
// in the test's hands.
type edgeEnv struct {
	url     string
	handler http.Handler
	users   *accounts.Service
}

func newEdgeEnv(t testing.TB, cfg Config, hashing *auth.HashBound) *edgeEnv {
	t.Helper()
	store, err := pebble.Open(t.TempDir(), pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	users := accounts.New(store, accounts.Config{Hash: auth.Params{Memory: 64, Time: 1, Threads: 1}, Hashing: hashing}, nil)
	if err := users.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(users.Close)
	videos := catalog.New(store, nil, nil)
	if err := videos.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(videos.Close)
	secret := []byte("an edge test secret, long enough")
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	cfg.CookieSecret = secret
	h := New(cfg, Deps{Accounts: users, Videos: videos, Tokens: tokens}, nil)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &edgeEnv{url: srv.URL, handler: h, users: users}
}

// signInFrom posts a sign-in to the handler as if from remoteAddr.
func (e *edgeEnv) signInFrom(remoteAddr, user, password string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/sign-ins",
		strings.NewReader(`{"username":"`+user+`","password":"`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = remoteAddr
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

// Password checks are limited per address, and an IPv6 client is one
// address per /64: it cannot take a fresh burst from each of its own.
func TestAuthLimitKeysIPv6By64(t *testing.T) {
	e := newEdgeEnv(t, Config{AuthRate: 0.001, AuthBurst: 2}, nil)
	for i, addr := range []string{"[2001:db8:1:2::1]:5000", "[2001:db8:1:2:ffff::7]:5001"} {
		if rec := e.signInFrom(addr, "nobody", "guess-number-1"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d from %s: %d %s", i, addr, rec.Code, rec.Body)
		}
	}
	if rec := e.signInFrom("[2001:db8:1:2:abcd::9]:5002", "nobody", "guess-number-1"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("third attempt from the same /64: %d, want 429", rec.Code)
	}
	if rec := e.signInFrom("[2001:db8:1:3::1]:5003", "nobody", "guess-number-1"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("attempt from the next /64: %d, want 401", rec.Code)
	}
	if rec := e.signInFrom("192.0.2.7:5004", "nobody", "guess-number-1"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("attempt from IPv4: %d, want 401", rec.Code)
	}
}

// With every hashing slot taken, a sign-in or registration that cannot
// get one in time is answered 429 with a Retry-After, on the API and on
// the pages, and goes through once a slot is free.
func TestPasswordHashingIsBounded(t *testing.T) {
	bound := auth.NewHashBound(1, 0)
	e := newEdgeEnv(t, Config{AuthBurst: 1000}, bound)
	if _, err := e.users.Register(t.Context(), "grace", "good password 1", eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() { done <- bound.Do(context.Background(), func() { close(held); <-release }) }()
	<-held

	post := func(path, contentType, body string) *http.Response {
		t.Helper()
		resp, err := http.Post(e.url+path, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/api/sign-ins", "/api/users"} {
		resp := post(path, "application/json", `{"username":"grace","password":"good password 1"}`)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("POST %s while hashing is full: %d, Retry-After %q", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	srv := &testServer{Server: &httptest.Server{URL: e.url}}
	b := srv.browser(t)
	resp, body := b.submit("/signin", "/signin", url.Values{"username": {"grace"}, "password": {"good password 1"}})
	expect(t, resp, body, http.StatusTooManyRequests, "busy")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("sign-in page while hashing is full: no Retry-After")
	}

	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r := post("/api/sign-ins", "application/json", `{"username":"grace","password":"good password 1"}`)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("sign-in with a free slot: %d", r.StatusCode)
	}
}

const analysisPublicURL = "https://videologue.example"

// The links of a W3C Web Annotation export are built from the configured
// public URL, whatever Host the request names.
func TestWebAnnotationLinksFromPublicURL(t *testing.T) {
	e := newAnalysisEnv(t)
	for _, host := range []string{"", "evil.example", "evil.example:443"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.url+"/api/videos/1/annotations.jsonld", nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens["bob"])
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Host %q: %d %s", host, resp.StatusCode, body)
		}
		for _, want := range []string{
			`"id":"` + analysisPublicURL + `/api/videos/1/annotations.jsonld"`,
			`"id":"` + analysisPublicURL + `/api/videos/1/annotations/1"`,
			`"id":"` + analysisPublicURL + `/users/`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("Host %q: no %s in\n%.600s", host, want, body)
			}
		}
		if strings.Contains(string(body), "evil.example") || strings.Contains(string(body), "127.0.0.1") {
			t.Errorf("Host %q: a link from the request's Host:\n%.600s", host, body)
		}
	}
}
