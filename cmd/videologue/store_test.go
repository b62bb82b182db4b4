package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/postgres"
	"github.com/videologue/videologue/internal/testenv/pgtest"
)

func TestParseServeStore(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  string // VIDEOLOGUE_STORE_URL
		args []string
		want StoreConfig
		err  string // part of the error; "" for none
	}{
		{name: "default", want: StoreConfig{Kind: "embedded"}},
		{name: "embedded ignores the environment", env: "postgres://db/x", want: StoreConfig{Kind: "embedded"}},
		{name: "url without store", args: []string{"--store-url", "postgres://db/x"}, err: "--store-url needs"},
		{name: "postgres from flag", args: []string{"--store", "postgres", "--store-url", "postgres://u@db:5432/x?sslmode=disable"},
			want: StoreConfig{Kind: "postgres", URL: "postgres://u@db:5432/x?sslmode=disable"}},
		{name: "postgres from env", env: "postgres://u@db/x", args: []string{"--store", "postgres", "--store-schema", "vl"},
			want: StoreConfig{Kind: "postgres", URL: "postgres://u@db/x", Schema: "vl"}},
		{name: "schema in url", args: []string{"--store", "postgres", "--store-url", "postgresql://u@db/x?schema=vl2&sslmode=disable"},
			want: StoreConfig{Kind: "postgres", URL: "postgresql://u@db/x?sslmode=disable", Schema: "vl2"}},
		{name: "flag schema wins", args: []string{"--store", "postgres", "--store-schema", "a", "--store-url", "postgres://db/x?schema=b"},
			want: StoreConfig{Kind: "postgres", URL: "postgres://db/x", Schema: "a"}},
		{name: "key=value string", args: []string{"--store", "postgres", "--store-url", "host=db dbname=x"},
			want: StoreConfig{Kind: "postgres", URL: "host=db dbname=x"}},
		{name: "postgres without url", args: []string{"--store", "postgres"}, err: "needs --store-url"},
		{name: "bad url hides itself", args: []string{"--store", "postgres", "--store-url", "postgres://u:secret@db:port/x"}, err: "not a valid PostgreSQL URL"},
		{name: "kurrentdb", args: []string{"--store", "kurrentdb", "--store-url", "kurrentdb://k:2113?tls=false"},
			want: StoreConfig{Kind: "kurrentdb", URL: "kurrentdb://k:2113?tls=false"}},
		{name: "kurrentdb without url", args: []string{"--store", "kurrentdb"}, err: "needs --store-url"},
		{name: "schema needs postgres", args: []string{"--store", "kurrentdb", "--store-url", "kurrentdb://k", "--store-schema", "s"}, err: "--store-schema needs"},
		{name: "unknown store", args: []string{"--store", "sqlite"}, err: "embedded, postgres or kurrentdb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("VIDEOLOGUE_STORE_URL", tc.env)
			c, err := parseServe(tc.args, io.Discard)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "secret@") {
					t.Fatalf("error shows the URL's password: %v", err)
				}
				return
			}
			if err != nil || c.Store != tc.want {
				t.Fatalf("got %+v, %v; want %+v", c.Store, err, tc.want)
			}
		})
	}
}

func TestDefaultNodeName(t *testing.T) {
	embedded := defaultNodeName(ServeConfig{Addr: "0.0.0.0:4000"})
	a := defaultNodeName(ServeConfig{Addr: "0.0.0.0:4000", Store: StoreConfig{Kind: storePostgres}})
	b := defaultNodeName(ServeConfig{Addr: "0.0.0.0:4001", Store: StoreConfig{Kind: storePostgres}})
	if a == b || a == embedded || !strings.HasSuffix(a, "-4000") {
		t.Fatalf("node names on one host: embedded %q, shared :4000 %q, shared :4001 %q", embedded, a, b)
	}
}

// serve on PostgreSQL: the server runs on the shared log, records its
// node there as a peer among others, and writes what its users do to it.
func TestMainOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	cfg := ServeConfig{Addr: "127.0.0.1:0", Data: t.TempDir(), Secret: devSecret, Env: "dev",
		Store: StoreConfig{Kind: storePostgres, URL: url, Schema: schema}}
	m := NewMain(cfg, slog.New(slog.DiscardHandler))
	if err := m.Run(t.Context()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = m.Close()
		}
	})
	if _, ok := m.Store.(*postgres.Store); !ok {
		t.Fatalf("store is a %T, want *postgres.Store", m.Store)
	}
	b, _ := json.Marshal(map[string]string{"username": "pg", "password": "password-123"})
	resp, err := http.Post("http://"+m.Addr()+"/api/users", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/users: %d", resp.StatusCode)
	}
	node := m.Node.ID()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true

	st, err := postgres.Open(t.Context(), url, postgres.Config{Schema: schema}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.WithoutCancel(t.Context())
	nodes, err := st.ReadStream(ctx, domain.NodesStream, eventstore.Forwards, 0, 10)
	if err != nil || len(nodes) != 2 || nodes[0].Type != domain.TypeNodeStarted || nodes[1].Type != domain.TypeNodeStopped {
		t.Fatalf("nodes stream in PostgreSQL: %d events, %v", len(nodes), err)
	}
	if !strings.Contains(string(nodes[0].Data), node) {
		t.Fatalf("NodeStarted %s does not name node %s", nodes[0].Data, node)
	}
	all, err := st.ReadAll(ctx, eventstore.Forwards, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	registered := false
	for _, ev := range all {
		registered = registered || ev.Type == domain.TypeUserRegistered
	}
	if !registered {
		t.Fatal("the user registered over HTTP is not in the PostgreSQL log")
	}
}

// A store that cannot be opened is an error naming it, not a panic in
// the shutdown that follows.
func TestServeUnreachableStore(t *testing.T) {
	err := runServe(t.Context(), []string{"--addr", "127.0.0.1:0", "--data", t.TempDir(),
		"--store", "postgres", "--store-url", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Fatalf("serve on an unreachable PostgreSQL: %v", err)
	}
}

func TestLiveNamesake(t *testing.T) {
	url := pgtest.URL(t)
	st, err := postgres.Open(t.Context(), url, postgres.Config{Schema: pgtest.Schema(t, url)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	record := func(typ, node string) {
		data, _ := json.Marshal(map[string]string{"node": node})
		if _, err := st.Append(ctx, domain.NodesStream, eventstore.Any, eventstore.EventData{Type: typ, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	record(domain.TypeNodeStarted, "web-1/20260101T000000-aa")
	record(domain.TypeNodeStarted, "web-2/20260101T000000-bb")
	record(domain.TypeNodeHeartbeat, "web-2/20260101T000000-bb")
	record(domain.TypeNodeStarted, "web-10/20260101T000000-cc")
	record(domain.TypeNodeStopped, "web-10/20260101T000000-cc")
	now := time.Now()
	for _, tc := range []struct {
		name string
		now  time.Time
		want string
	}{
		{"web-1", now, "web-1/20260101T000000-aa"},
		{"web-2", now, "web-2/20260101T000000-bb"},
		{"web-10", now, ""},                 // stopped
		{"web-3", now, ""},                  // never ran
		{"web-1", now.Add(time.Minute), ""}, // silent past the timeout
	} {
		got, err := liveNamesake(ctx, st, tc.name, 15*time.Second, tc.now)
		if err != nil || got != tc.want {
			t.Errorf("liveNamesake(%q, %v): %q, %v; want %q", tc.name, tc.now.Sub(now), got, err, tc.want)
		}
	}
}
