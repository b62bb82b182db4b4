package channels_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/internal/testenv"
)

// requireLoopbackRange skips where 127.0.0.2 is not a local address: the
// per-address tests dial from two addresses.
func requireLoopbackRange(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err == nil {
		l.Close()
	}
	testenv.Require(t, "the 127.0.0.0/8 range on loopback (Linux)", err == nil)
}

// refusedWith reports whether a dial was refused with 429 and a body
// saying want.
func refusedWith(t *testing.T, resp *http.Response, err error, want string) bool {
	t.Helper()
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		return false
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), want) {
		t.Fatalf("429 says %q, want it to say %q", b, want)
	}
	return true
}

// One account reconnecting in a loop, as fast as the server lets it,
// posts no more than its rate allows over the whole run: its bucket
// outlives its sockets.
func TestReconnectingKeepsPushLimit(t *testing.T) {
	const rate, burst = 5, 5
	e := newEnv(t, channels.Config{PushRate: rate, PushBurst: burst})
	uid, _, tok := e.user("reconnect")
	vid := e.video(uid)
	topic := "videos:" + itoa(vid)
	acked, sockets := 0, 0
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		c, resp, err := e.tryDial(tok, nil)
		if err != nil {
			if status(resp) != http.StatusTooManyRequests {
				t.Fatalf("dial: %v (%d)", err, status(resp))
			}
			time.Sleep(20 * time.Millisecond) // connects are limited too: try again
			continue
		}
		sockets++
		jr, f := c.join(topic, map[string]any{})
		for st, _ := f.reply(); st == "ok"; {
			st, _ = c.request(jr, topic, "new_annotation", map[string]any{"body": "again", "at": 1}).reply()
			if st == "ok" {
				acked++
			}
		}
		c.close()
	}
	elapsed := time.Since(start)
	stored := len(e.logIDs(vid))
	bound := burst + rate*elapsed.Seconds()
	t.Logf("%d sockets in %v: %d posts acknowledged, %d stored; bound %.1f", sockets, elapsed.Round(time.Millisecond), acked, stored, bound)
	if stored != acked {
		t.Fatalf("%d posts stored, %d acknowledged", stored, acked)
	}
	if float64(acked) > bound {
		t.Fatalf("%d posts in %v over %d sockets: more than burst %d + %d/s", acked, elapsed, sockets, burst, rate)
	}
	if sockets < 3 {
		t.Fatalf("only %d sockets: the loop did not reconnect", sockets)
	}
}

// The joins of a user are limited across connections, with their own
// refusal. The clock stands still: no token comes back meanwhile.
func TestJoinLimitSurvivesReconnect(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	e := newEnv(t, channels.Config{Now: clock.Now})
	uid, _, tok := e.user("joiner")
	_, _, otherTok := e.user("calm")
	topic := "videos:" + itoa(e.video(uid))
	c := e.dial(tok)
	joins := 0
	for {
		_, f := c.join(topic, map[string]any{})
		if st, _ := f.reply(); st != "ok" {
			if f.reason() != "too many joins, slow down" {
				t.Fatalf("join %d refused with %s", joins+1, f.Payload)
			}
			break
		}
		if joins++; joins > 100 {
			t.Fatal("100 joins in a row admitted")
		}
	}
	if joins != 40 {
		t.Fatalf("%d joins admitted, want the default burst of 40", joins)
	}
	c.close()
	c = e.dial(tok)
	if _, f := c.join(topic, map[string]any{}); f.reason() != "too many joins, slow down" {
		t.Fatalf("join after reconnecting: %s, want still refused", f.Payload)
	}
	e.dial(otherTok).mustJoin(topic, map[string]any{}) // another user is not limited
}

// Every inbound frame counts against its connection's budget: a flood of
// frames that are not pushes ends the connection as a push flood does.
func TestFloodOfAnyFrameCloses(t *testing.T) {
	e := newEnv(t, channels.Config{})
	uid, _, tok := e.user("flood")
	topic := "videos:" + itoa(e.video(uid))
	for _, tc := range []struct {
		name  string
		flood func(c *client, jr string, i int) error
	}{
		{"heartbeats", func(c *client, _ string, i int) error {
			return c.trySend("", "h"+itoa(int64(i)), "phoenix", "heartbeat", map[string]any{})
		}},
		{"pushes to an unjoined topic", func(c *client, _ string, i int) error {
			return c.trySend("1", "u"+itoa(int64(i)), "videos:999999", "new_annotation", map[string]any{"body": "x", "at": 1})
		}},
		{"pushes of an earlier join", func(c *client, jr string, i int) error {
			return c.trySend("stale"+jr, "s"+itoa(int64(i)), topic, "new_annotation", map[string]any{"body": "x", "at": 1})
		}},
		{"leaves of topics not joined", func(c *client, _ string, i int) error {
			return c.trySend("l", "l"+itoa(int64(i)), "videos:77", "phx_leave", map[string]any{})
		}},
	} {
		func() { // not a subtest: the client's failures are the test's
			c := e.dial(tok)
			jr := c.mustJoin(topic, map[string]any{})
			for i := range 5000 {
				if tc.flood(c, jr, i) != nil {
					break // closed under the flood
				}
			}
			var ce *websocket.CloseError
			if err := c.closeErr(10 * time.Second); !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "too many messages" {
				t.Fatalf("flood of %s ended with %v, want close 1008 too many messages", tc.name, err)
			}
			refused := false
			for _, f := range c.frames {
				refused = refused || f.reason() == "too many messages, slow down"
			}
			if !refused {
				t.Fatalf("%s: no frame of the flood was refused before the close", tc.name)
			}
		}()
	}
	if got := len(e.logIDs(mustVideoID(t, topic))); got != 0 {
		t.Fatalf("%d annotations stored by floods that posted nothing", got)
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// What a Phoenix client does at its normal pace is never limited by the
// default budgets: a heartbeat every 30 s for a day, and, at one instant,
// the burst of a client that reconnects: rejoining as many channels as a
// connection may hold, sending the pushes it held back and a heartbeat.
func TestNormalClientNeverLimited(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	e := newEnv(t, channels.Config{Now: clock.Now})
	uid, _, tok := e.user("normal")
	c := e.dial(tok)
	for i := range 24 * 60 * 2 {
		clock.advance(30 * time.Second)
		if st, _ := c.request("", "phoenix", "heartbeat", map[string]any{}).reply(); st != "ok" {
			t.Fatalf("heartbeat %d refused", i)
		}
	}
	topics := make([]string, 32)
	for i := range topics {
		topics[i] = "videos:" + itoa(e.video(uid))
	}
	c.close()
	c = e.dial(tok)
	type sent struct {
		n          int
		ref, topic string
	}
	var all []sent
	for i, topic := range topics {
		ref := "j" + itoa(int64(i))
		all = append(all, sent{c.send(ref, ref, topic, "phx_join", map[string]any{}), ref, topic})
	}
	for i := range 30 {
		ref := "p" + itoa(int64(i))
		all = append(all, sent{c.send("j0", ref, topics[0], "new_annotation", map[string]any{"body": "held back", "at": i}), ref, topics[0]})
	}
	all = append(all, sent{c.send("", "hb", "phoenix", "heartbeat", map[string]any{}), "hb", "phoenix"})
	for _, s := range all {
		f := c.await(s.n, 10*time.Second, "reply to "+s.ref, func(f frame) bool {
			return f.Event == "phx_reply" && f.ref() == s.ref && f.Topic == s.topic
		})
		if st, _ := f.reply(); st != "ok" {
			t.Fatalf("%s on %s refused: %s", s.ref, s.topic, f.Payload)
		}
	}
}

// Sockets open at once from one address are capped; other addresses are
// not affected, and a socket closed frees its place.
func TestSocketCapPerAddress(t *testing.T) {
	requireLoopbackRange(t)
	e := newEnv(t, channels.Config{})
	const cap = 64 // the default
	var toks []string
	for range 3 { // connects are limited per user too
		_, _, tok := e.user("many")
		toks = append(toks, tok)
	}
	open := make([]*client, 0, cap)
	for i := range cap {
		c, resp, err := e.tryDialFrom("127.0.0.1", toks[i%len(toks)], nil)
		if err != nil {
			t.Fatalf("socket %d of %d refused: %v (%d)", i+1, cap, err, status(resp))
		}
		open = append(open, c)
	}
	_, resp, err := e.tryDialFrom("127.0.0.1", toks[0], nil)
	if !refusedWith(t, resp, err, "too many open sockets from your address") {
		t.Fatalf("socket %d from one address: %v (%d), want 429", cap+1, err, status(resp))
	}
	if _, resp, err := e.tryDialFrom("127.0.0.2", toks[1], nil); err != nil {
		t.Fatalf("another address refused: %v (%d)", err, status(resp))
	}
	open[0].close()
	eventually(t, "a place freed by a closed socket", 10*time.Second, func() bool {
		_, resp, err := e.tryDialFrom("127.0.0.1", toks[2], nil)
		if err == nil {
			return true
		}
		if status(resp) != http.StatusTooManyRequests {
			t.Fatalf("dial: %v (%d)", err, status(resp))
		}
		time.Sleep(50 * time.Millisecond)
		return false
	})
}

// Connects are limited per user, once the token is verified, and per
// address, before: both refuse the upgrade with 429 and Retry-After. The
// clock stands still: no token comes back meanwhile.
func TestConnectLimits(t *testing.T) {
	requireLoopbackRange(t)
	clock := &fakeClock{now: time.Now()}
	e := newEnv(t, channels.Config{Now: clock.Now})
	_, _, tok := e.user("connect")
	_, _, otherTok := e.user("other")
	const userBurst, addrBurst = 30, 100 // the defaults
	attempts := 0
	for i := range userBurst {
		c, resp, err := e.tryDialFrom("127.0.0.1", tok, nil)
		attempts++
		if err != nil {
			t.Fatalf("connect %d within the burst: %v (%d)", i+1, err, status(resp))
		}
		c.close() // closed: it is the rate that refuses, not the socket cap
	}
	_, resp, err := e.tryDialFrom("127.0.0.1", tok, nil)
	attempts++
	if !refusedWith(t, resp, err, "too many connections for this user") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("connect %d of one user: %v (%d), want 429 with Retry-After", userBurst+1, err, status(resp))
	}
	if _, resp, err := e.tryDialFrom("127.0.0.2", tok, nil); !refusedWith(t, resp, err, "too many connections for this user") {
		t.Fatalf("the user from another address: %v (%d), want 429", err, status(resp))
	}
	c, resp, err := e.tryDialFrom("127.0.0.1", otherTok, nil)
	attempts++
	if err != nil {
		t.Fatalf("another user: %v (%d)", err, status(resp))
	}
	c.close()
	// Every attempt from the address counts, even with a bad token; past
	// the burst, the next is refused before its token is looked at.
	for ; attempts < addrBurst; attempts++ {
		if _, resp, err := e.tryDialFrom("127.0.0.1", "notatoken", nil); err == nil || status(resp) != http.StatusForbidden {
			t.Fatalf("attempt %d with a bad token: %v (%d), want 403", attempts+1, err, status(resp))
		}
	}
	if _, resp, err := e.tryDialFrom("127.0.0.1", otherTok, nil); !refusedWith(t, resp, err, "too many connection attempts from your address") {
		t.Fatalf("attempt %d from one address: %v (%d), want 429", addrBurst+1, err, status(resp))
	}
	if _, resp, err := e.tryDialFrom("127.0.0.2", otherTok, nil); err != nil {
		t.Fatalf("another address: %v (%d)", err, status(resp))
	}
}

// Pushes are limited per address too, across users: the users of one
// address share its bucket (150 at once by default, 30 per user); what a
// user's own limit refuses costs the others nothing; another address has
// its own bucket. The clock stands still: no token comes back meanwhile.
func TestPushLimitPerAddress(t *testing.T) {
	requireLoopbackRange(t)
	clock := &fakeClock{now: time.Now()}
	e := newEnv(t, channels.Config{Now: clock.Now})
	uid, _, _ := e.user("owner")
	topic := "videos:" + itoa(e.video(uid))
	joined := func(ip, tok string) (*client, string) {
		c, resp, err := e.tryDialFrom(ip, tok, nil)
		if err != nil {
			t.Fatalf("dial: %v (%d)", err, status(resp))
		}
		return c, c.mustJoin(topic, map[string]any{})
	}
	post := func(c *client, jr string) frame {
		return c.request(jr, topic, "new_annotation", map[string]any{"body": "shared", "at": 1})
	}
	var toks []string
	for i := range 6 {
		_, _, tok := e.user("nat")
		toks = append(toks, tok)
		c, jr := joined("127.0.0.1", tok)
		if i == 5 {
			if f := post(c, jr); f.reason() != "too many messages, slow down" {
				t.Fatalf("push over the address's limit: %s", f.Payload)
			}
			break
		}
		for n := range 30 {
			if st, _ := post(c, jr).reply(); st != "ok" {
				t.Fatalf("user %d: push %d within the bursts refused", i, n)
			}
		}
		if i == 0 { // over its own limit: refused, and the address's bucket untouched
			if f := post(c, jr); f.reason() != "too many messages, slow down" {
				t.Fatalf("push over the user's limit: %s", f.Payload)
			}
		}
	}
	c, jr := joined("127.0.0.2", toks[5])
	if st, _ := post(c, jr).reply(); st != "ok" {
		t.Fatal("the same user from another address was refused")
	}
}
