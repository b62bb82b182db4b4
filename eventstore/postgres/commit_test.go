package postgres_test

import (
	"bytes"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/postgres"
	"github.com/videologue/videologue/internal/testenv/pgtest"
)

// TestConnectionLostAtCommit breaks the committer's connection when it
// sends the round trip that ends with COMMIT: once after the server got
// it (the commit happens, unreported), once before (it does not). Either
// way the appender must be told the truth, and the event be in the log
// exactly once.
func TestConnectionLostAtCommit(t *testing.T) {
	dbURL := pgtest.URL(t)
	u, err := url.Parse(dbURL)
	if err != nil || u.Host == "" || u.Query().Get("sslmode") != "disable" {
		t.Skipf("needs a postgres:// URL with sslmode=disable to put a proxy in the way, not %q", dbURL)
	}
	for _, forward := range []bool{true, false} {
		name := map[bool]string{true: "AfterCommitSent", false: "BeforeCommitSent"}[forward]
		t.Run(name, func(t *testing.T) {
			schema := pgtest.Schema(t, dbURL)
			p := newCutter(t, u.Host)
			via := *u
			via.Host = p.addr
			var logs syncBuffer
			s, err := postgres.Open(t.Context(), via.String(), postgres.Config{Schema: schema}, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			first := mustAppend(t, s, "cut", eventstore.NoStream, event(0))
			// The batch that commits is the only one carrying the channel
			// name (the listener sent it once, at Open).
			p.arm([]byte("videologue_"+schema), forward)
			e := event(1)
			res := mustAppend(t, s, "cut", eventstore.Exact(first.NextExpected), e)
			if !p.fired.Load() {
				t.Fatal("the proxy never cut the connection")
			}
			// The store found out what happened, rather than guessing.
			if happened := strings.Contains(logs.String(), "which happened"); happened != forward {
				t.Errorf("logged that the lost commit happened: %v, want %v; logs:\n%s", happened, forward, logs.String())
			}
			evs, err := s.ReadStream(t.Context(), "cut", eventstore.Forwards, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 2 || evs[1].ID != e.ID || evs[1].Position != res.FirstPosition {
				t.Fatalf("after the cut the stream holds %d events (%+v), want 2 ending with %s at %d", len(evs), evs, e.ID, res.FirstPosition)
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// cutter is a TCP proxy to PostgreSQL that, once armed, cuts the
// connection on which the client sends a given byte string, after
// forwarding it or instead.
type cutter struct {
	addr    string
	mu      sync.Mutex
	trigger []byte
	forward bool
	fired   atomic.Bool
}

func newCutter(t testing.TB, target string) *cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			conns.Store(client, nil)
			conns.Store(server, nil)
			var cut atomic.Bool // set: the server's replies are lost
			wg.Go(func() {
				defer client.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := server.Read(buf)
					if err != nil || cut.Load() {
						return
					}
					if _, err := client.Write(buf[:n]); err != nil {
						return
					}
				}
			})
			wg.Go(func() { c.pipe(client, server, &cut) })
		}
	})
	return c
}

func (c *cutter) arm(trigger []byte, forward bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trigger, c.forward = trigger, forward
}

func (c *cutter) pipe(client, server net.Conn, cut *atomic.Bool) {
	defer server.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if err != nil {
			return
		}
		c.mu.Lock()
		hit := c.trigger != nil && bytes.Contains(buf[:n], c.trigger)
		forward := c.forward
		if hit {
			c.trigger = nil
		}
		c.mu.Unlock()
		if hit {
			c.fired.Store(true)
			cut.Store(true)
		}
		if !hit || forward {
			if _, err := server.Write(buf[:n]); err != nil {
				return
			}
		}
		if hit {
			if forward {
				time.Sleep(200 * time.Millisecond) // the server commits, its reply is lost
			}
			client.Close()
			return
		}
	}
}
