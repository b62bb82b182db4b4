package system

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawConn opens a TCP connection to s from the loopback address ip.
func rawConn(t *testing.T, s *server, ip string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// slowBody sends a request whose body never comes past its first byte.
func slowBody(c net.Conn) error {
	_, err := fmt.Fprintf(c, "POST /api/sign-ins HTTP/1.1\r\nHost: videologue\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{")
	return err
}

// ended waits, for at most within, for the server to end c: a response
// or the connection closed. It reports false if c was still open and
// silent when the time ran out.
func ended(c net.Conn, within time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(within))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// One address opening connections that send a body slowly holds at most
// --max-conns-per-addr of them; the rest are closed at once, and every
// other client is served meanwhile.
func TestSlowBodiesFromOneAddressAreCapped(t *testing.T) {
	const cap, flood = 16, 64
	// A read timeout far beyond the test: only the cap can end these.
	s := startServer(t, "--max-conns-per-addr", strconv.Itoa(cap), "--read-timeout", "1h")
	conns := make([]net.Conn, flood)
	for i := range conns {
		conns[i] = rawConn(t, s, "127.0.9.9")
		_ = slowBody(conns[i]) // a connection closed at once may refuse the write
	}
	// The connections past the cap are closed as they are accepted; the
	// rest stay open. Wait for the count, with a generous deadline.
	open, closed := conns, 0
	for deadline := time.Now().Add(60 * time.Second); closed < flood-cap && time.Now().Before(deadline); {
		var still []net.Conn
		for _, c := range open {
			if ended(c, 50*time.Millisecond) {
				closed++
			} else {
				still = append(still, c)
			}
		}
		open = still
	}
	if closed != flood-cap {
		t.Fatalf("%d of %d slow connections from one address were closed, want %d (the cap is %d)", closed, flood, flood-cap, cap)
	}
	for _, c := range open { // nothing more closes them
		if ended(c, 50*time.Millisecond) {
			t.Fatal("a connection within the cap was closed")
		}
	}
	resp, err := httpFrom("127.0.0.1").Get(s.url("/healthz"))
	if err != nil {
		t.Fatalf("/healthz from another address while one address holds its cap: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	if resp, err := httpFrom("127.0.9.9").Get(s.url("/healthz")); err == nil {
		resp.Body.Close()
		t.Fatalf("a connection past the cap was served: %d", resp.StatusCode)
	}
	// Closing them gives the address its connections back.
	for _, c := range conns {
		_ = c.Close()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := httpFrom("127.0.9.9").Get(s.url("/healthz"))
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the address is still refused 30 s after closing its connections: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A request whose body stalls is cut at --read-timeout; headers past
// --max-header-bytes get 431; a websocket idle past the read timeout is
// not cut by it.
func TestSlowAndHugeRequestsAreCut(t *testing.T) {
	s := startServer(t, "--read-timeout", "2s") // --max-header-bytes: 64 KiB by default

	c := rawConn(t, s, "127.0.10.1")
	if err := slowBody(c); err != nil {
		t.Fatal(err)
	}
	if !ended(c, 60*time.Second) {
		t.Fatal("a request whose body stalled was still held 60 s later (read timeout 2 s)")
	}

	h := rawConn(t, s, "127.0.10.2")
	_ = h.SetDeadline(time.Now().Add(60 * time.Second))
	big := strings.Repeat("x", 100<<10)
	if _, err := fmt.Fprintf(h, "GET /healthz HTTP/1.1\r\nHost: videologue\r\nX-Big: %s\r\n\r\n", big); err != nil {
		t.Fatalf("sending 100 KiB of headers: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(h), nil)
	if err != nil {
		t.Fatalf("100 KiB of headers: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("100 KiB of headers: %d, want 431", resp.StatusCode)
	}

	u := s.signUp(t, "idler", "127.0.10.3")
	vid := s.addVideo(t, u, "idle")
	ws, err := dial(s, u.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	topic := "videos:" + strconv.FormatInt(vid, 10)
	if err := send(ws, "j", "j", topic, "phx_join", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if f := readUntil(t, ws, func(f *frame) bool { return f.Event == "phx_reply" && f.ref() == "j" }); f == nil {
		t.Fatal("no join reply")
	}
	// Idle for more than twice the read timeout: the socket's own idle
	// timeout (75 s) governs it, not the HTTP server's.
	time.Sleep(5 * time.Second)
	if err := send(ws, "", "hb", "phoenix", "heartbeat", map[string]any{}); err != nil {
		t.Fatalf("heartbeat after idling: %v", err)
	}
	if f := readUntil(t, ws, func(f *frame) bool { return f.Event == "phx_reply" && f.ref() == "hb" }); f == nil {
		t.Fatal("a socket idle past the read timeout was cut")
	}
}
