package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

func TestParseServe(t *testing.T) {
	t.Setenv("VIDEOLOGUE_SECRET", "")
	var stderr bytes.Buffer
	c, err := parseServe(nil, &stderr)
	if err != nil || c.Addr != "127.0.0.1:4000" || c.Data != "./data" || c.Secret != devSecret || c.Env != "dev" {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	if _, err := parseServe([]string{"--env", "prod"}, &stderr); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Fatalf("prod without secret: %v", err)
	}
	if _, err := parseServe([]string{"--env", "prod", "--secret", "short"}, &stderr); err == nil {
		t.Fatal("prod with a short secret started")
	}
	t.Setenv("VIDEOLOGUE_SECRET", strongSecret)
	t.Setenv("VIDEOLOGUE_DATA_KEY", strongDataKey)
	t.Setenv("VIDEOLOGUE_PUBLIC_URL", "https://v.example/")
	c, err = parseServe([]string{"--env", "prod", "--origin", "a.example, b.example:8443"}, &stderr)
	if err != nil || len(c.Origins) != 2 || c.Origins[1] != "b.example:8443" || c.PublicURL != "https://v.example" {
		t.Fatalf("prod with env secret: %+v, %v", c, err)
	}
	if _, err := parseServe([]string{"--env", "prod", "--secret", strongSecret, "--load-test"}, &stderr); err == nil || !strings.Contains(err.Error(), "--load-test") {
		t.Fatalf("--load-test with --env prod: %v, want a refusal", err)
	}
	if c, err := parseServe([]string{"--heartbeat", "2s", "--node-timeout", "7s"}, &stderr); err != nil || c.Heartbeat != 2*time.Second || c.NodeTimeout != 7*time.Second {
		t.Fatalf("--heartbeat/--node-timeout: %+v, %v", c, err)
	}
	if _, err := parseServe([]string{"--env", "staging"}, &stderr); err == nil {
		t.Fatal("unknown env accepted")
	}
}

// strongSecret and strongDataKey are what `openssl rand -base64 32`
// prints.
const (
	strongSecret  = "q3Vh8yR0tKc1Zx+Lm4n2Pw9JdFe6sGaUoB7iTYlHbEQ="
	strongDataKey = "Zr7mQ2xWv9LkT4pN0sBc8HdYf3JgUa6eR1oEiK5tMwA="
)

// Production needs a data key of its own to wrap the users' keys;
// development has one.
func TestParseServeDataKey(t *testing.T) {
	t.Setenv("VIDEOLOGUE_PUBLIC_URL", "")
	prod := []string{"--env", "prod", "--addr", "0.0.0.0:4000", "--public-url", "https://v.example", "--secret", strongSecret}
	for _, tc := range []struct {
		name, key string
		args      []string
		want      string // in the error; "": accepted
	}{
		{"dev without", "", nil, ""},
		{"prod without", "", prod, "VIDEOLOGUE_DATA_KEY"},
		{"prod with the development key", devDataKey, prod, "development key"},
		{"prod with a weak key", strings.Repeat("ab", 20), prod, "predictable"},
		{"prod with a random key", strongDataKey, prod, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("VIDEOLOGUE_DATA_KEY", tc.key)
			c, err := parseServe(tc.args, io.Discard)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "" && c.DataKey == "":
				t.Fatal("no data key")
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v does not say %q", err, tc.want)
			}
		})
	}
}

// Development mode signs with a secret that is in the repository, so it
// serves this machine only; production needs a secret that resists
// guessing and the public address of the site.
func TestParseServeRefuses(t *testing.T) {
	t.Setenv("VIDEOLOGUE_SECRET", "")
	t.Setenv("VIDEOLOGUE_DATA_KEY", strongDataKey)
	t.Setenv("VIDEOLOGUE_PUBLIC_URL", "")
	prod := func(extra ...string) []string {
		return append([]string{"--env", "prod", "--addr", "0.0.0.0:4000", "--public-url", "https://v.example"}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string // in the error; nil: accepted
	}{
		{"dev on every interface", []string{"--addr", "0.0.0.0:4000"}, []string{"--env prod", "VIDEOLOGUE_SECRET", "loopback"}},
		{"dev on an empty host", []string{"--addr", ":4000"}, []string{"--env prod", "VIDEOLOGUE_SECRET"}},
		{"dev on IPv6 any", []string{"--addr", "[::]:4000"}, []string{"--env prod"}},
		{"dev on a LAN address", []string{"--addr", "192.168.1.10:4000"}, []string{"--env prod"}},
		{"dev on a host name", []string{"--addr", "videologue.example:4000"}, []string{"--env prod"}},
		{"dev with a secret on every interface", []string{"--addr", "0.0.0.0:4000", "--secret", strongSecret}, []string{"--env prod"}},
		{"dev on 127.0.0.1", []string{"--addr", "127.0.0.1:4000"}, nil},
		{"dev on 127.0.5.1", []string{"--addr", "127.0.5.1:4000"}, nil},
		{"dev on ::1", []string{"--addr", "[::1]:4000"}, nil},
		{"dev on localhost", []string{"--addr", "localhost:4000"}, nil},
		{"prod without a secret", prod(), []string{"VIDEOLOGUE_SECRET", "openssl rand"}},
		{"prod with one letter", prod("--secret", strings.Repeat("a", 64)), []string{"predictable", "openssl rand -base64 32"}},
		{"prod with digits over and over", prod("--secret", strings.Repeat("0123456789", 4)), []string{"predictable"}},
		{"prod with the alphabet", prod("--secret", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), []string{"predictable"}},
		{"prod with a repeated word", prod("--secret", strings.Repeat("Secret!1", 8)), []string{"predictable"}},
		{"prod with a short secret", prod("--secret", "xK9#mP2$vL5@"), []string{"32 characters"}},
		{"prod with the development secret", prod("--secret", devSecret), []string{"of your own"}},
		{"prod with a random secret", prod("--secret", strongSecret), nil},
		{"prod with a random hex secret", prod("--secret", "9f2c4e71b0a85d36e1f7c2094ab86d53"), nil},
		{"prod without a public URL", []string{"--env", "prod", "--addr", "0.0.0.0:4000", "--secret", strongSecret}, []string{"--public-url"}},
		{"prod with a public URL with a path", prod("--secret", strongSecret, "--public-url", "https://v.example/app"), []string{"--public-url"}},
		{"prod with a public URL without scheme", prod("--secret", strongSecret, "--public-url", "v.example"), []string{"--public-url"}},
		{"negative connection cap", []string{"--max-conns-per-addr", "-1"}, []string{"--max-conns-per-addr"}},
		{"no hashing slot", []string{"--max-hashes", "0"}, []string{"--max-hashes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseServe(tc.args, io.Discard)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestSecretBits(t *testing.T) {
	for _, tc := range []struct {
		secret string
		strong bool
	}{
		{strings.Repeat("a", 64), false},
		{strings.Repeat("0123456789", 4), false},
		{strings.Repeat("ab", 40), false},
		{"zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA9876543210", false},
		{strongSecret, true},
		{"9f2c4e71b0a85d36e1f7c2094ab86d53", true},
	} {
		if b := secretBits(tc.secret); (b >= minSecretBits) != tc.strong {
			t.Errorf("%q: %.0f bits, want strong=%v", tc.secret, b, tc.strong)
		}
	}
}

func TestRunDispatch(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"nope"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Fatalf("unknown command: %d %q", code, errOut.String())
	}
	if code := run(t.Context(), nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "serve") {
		t.Fatalf("no command: %d", code)
	}
}

// The whole server, as serve runs it: a socket client is told to go away
// on shutdown, its viewing is closed in the log, and the node's stop is
// recorded.
func TestMainGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	m := NewMain(ServeConfig{Addr: "127.0.0.1:0", Data: dir, Secret: devSecret, Env: "dev", Node: "t"}, slog.New(slog.DiscardHandler))
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = m.Close()
		}
	})
	creds := map[string]string{"username": "shut", "password": "password-123"}
	httpJSON(t, m.Addr(), "/api/users", "", creds)
	token := httpJSON(t, m.Addr(), "/api/sign-ins", "", creds)["token"].(string)
	httpJSON(t, m.Addr(), "/api/videos", token, map[string]string{"title": "t", "url": "https://example.com/v"})

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+m.Addr()+"/socket/websocket?token="+token+"&vsn=2.0.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`["1","1","videos:1","phx_join",{}]`))
	if _, msg, err := ws.ReadMessage(); err != nil || !strings.Contains(string(msg), `"status":"ok"`) {
		t.Fatalf("join: %s %v", msg, err)
	}
	// The join's handling records the viewing, and shutdown waits for a
	// handling under way, so the shutdown below finds it recorded.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	var ce *websocket.CloseError
	for {
		if _, _, err = ws.ReadMessage(); err != nil {
			break
		}
	}
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("socket ended with %v, want close 1001", err)
	}
	st, err := pebble.Open(dir, pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.WithoutCancel(t.Context())
	viewers, _ := st.ReadStream(ctx, domain.ViewersStream(1), eventstore.Forwards, 0, 10)
	nodes, _ := st.ReadStream(ctx, domain.NodesStream, eventstore.Forwards, 0, 10)
	if len(viewers) != 2 || viewers[1].Type != domain.TypeViewerLeft {
		t.Fatalf("viewers stream: %d events", len(viewers))
	}
	if len(nodes) != 2 || nodes[0].Type != domain.TypeNodeStarted || nodes[1].Type != domain.TypeNodeStopped {
		t.Fatalf("nodes stream: %d events", len(nodes))
	}
}

// --debug-addr serves the profiler on its own listener, never on the site,
// and Close stops it.
func TestDebugListener(t *testing.T) {
	m := NewMain(ServeConfig{Addr: "127.0.0.1:0", Data: t.TempDir(), Secret: devSecret, Env: "dev", Node: "t", DebugAddr: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	debug := "http://" + m.debug.Addr() + "/debug/pprof/"
	if code, body := get(debug); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("profiler index: %d %.200s", code, body)
	}
	if code, _ := get("http://" + m.Addr() + "/debug/pprof/"); code != 404 {
		t.Fatalf("the site serves the profiler: %d", code)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(debug); code != 0 {
		t.Fatalf("profiler still serving after Close: %d", code)
	}
}
