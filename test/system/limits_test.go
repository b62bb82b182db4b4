package system

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// dialFrom opens a socket from the loopback address ip; on a refusal it
// returns the status and body of the answer.
func dialFrom(s *server, token, ip string) (*websocket.Conn, int, string, error) {
	d := websocket.Dialer{
		HandshakeTimeout: 5 * time.Second,
		NetDialContext:   (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext,
	}
	ws, resp, err := d.Dial(s.wsURL(token), nil)
	if err != nil && resp != nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, resp.StatusCode, string(b), err
	}
	return ws, http.StatusSwitchingProtocols, "", err
}

// The socket's limits against the real binary (issue 17): a user's push
// limit holds however often they reconnect, floods of frames that are not
// pushes close the socket, and --max-sockets-per-addr caps the sockets of
// one address and no other.
func TestSocketLimits(t *testing.T) {
	srv := startServer(t, "--max-sockets-per-addr", "3")
	owner := srv.signUp(t, "owner", "127.0.9.1")
	video := srv.addVideo(t, owner, "limits")
	topic := "videos:" + strconv.FormatInt(video, 10)

	t.Run("reconnect loop held to the push rate", func(t *testing.T) {
		const rate, burst = 10, 30 // the defaults
		u := srv.signUp(t, "reconnector", "127.0.9.2")
		acked, sockets, refusedConnects := 0, 0, 0
		start := time.Now()
		for time.Since(start) < 5*time.Second {
			ws, code, body, err := dialFrom(srv, u.Token, u.IP)
			if err != nil {
				if code != http.StatusTooManyRequests {
					t.Fatalf("dial: %v (%d %q)", err, code, body)
				}
				refusedConnects++
				time.Sleep(20 * time.Millisecond)
				continue
			}
			sockets++
			ok := send(ws, "j", "j", topic, "phx_join", map[string]any{}) == nil
			if f := readUntil(t, ws, func(f *frame) bool { return f.Event == "phx_reply" && f.ref() == "j" }); f == nil {
				ok = false
			} else if status, _, _ := f.reply(); status != "ok" {
				ok = false
			}
			for n := 0; ok; n++ {
				ref := "p" + strconv.Itoa(n)
				if send(ws, "j", ref, topic, "new_annotation", map[string]any{"body": "again", "at": n}) != nil {
					break
				}
				f := readUntil(t, ws, func(f *frame) bool { return f.Event == "phx_reply" && f.ref() == ref })
				if f == nil {
					break
				}
				if status, _, _ := f.reply(); status != "ok" {
					break
				}
				acked++
			}
			ws.Close()
		}
		elapsed := time.Since(start)
		bound := burst + rate*elapsed.Seconds()
		t.Logf("%d sockets (%d connects refused) in %v: %d posts acknowledged; bound %.1f",
			sockets, refusedConnects, elapsed.Round(time.Millisecond), acked, bound)
		if float64(acked) > bound {
			t.Fatalf("%d posts in %v over %d sockets: more than burst %d + %d/s", acked, elapsed, sockets, burst, rate)
		}
		if sockets < 5 {
			t.Fatalf("only %d sockets: the loop did not reconnect", sockets)
		}
	})

	t.Run("floods of frames that are not pushes", func(t *testing.T) {
		u := srv.signUp(t, "flooder", "127.0.9.3")
		for name, frameOf := range map[string]func(i int) []any{
			"heartbeats": func(i int) []any { return []any{nil, strconv.Itoa(i), "phoenix", "heartbeat", map[string]any{}} },
			"pushes to an unjoined topic": func(i int) []any {
				return []any{"1", strconv.Itoa(i), "videos:999999", "new_annotation", map[string]any{}}
			},
		} {
			ws, code, body, err := dialFrom(srv, u.Token, u.IP)
			if err != nil {
				t.Fatalf("%s: dial: %v (%d %q)", name, err, code, body)
			}
			wrote := make(chan struct{})
			go func() { // the writer; the reader below sees the socket end
				defer close(wrote)
				for i := range 20_000 {
					if ws.WriteJSON(frameOf(i)) != nil {
						return
					}
				}
			}()
			_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
			var closeErr error
			for closeErr == nil {
				_, _, closeErr = ws.ReadMessage()
			}
			ws.Close()
			<-wrote
			var ce *websocket.CloseError
			if !errors.As(closeErr, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "too many messages" {
				t.Fatalf("flood of %s ended with %v, want close 1008 too many messages", name, closeErr)
			}
		}
	})

	t.Run("sockets per address capped", func(t *testing.T) {
		u := srv.signUp(t, "tabs", "127.0.9.4")
		for i := range 3 {
			ws, code, body, err := dialFrom(srv, u.Token, "127.0.9.4")
			if err != nil {
				t.Fatalf("socket %d: %v (%d %q)", i+1, err, code, body)
			}
			defer ws.Close()
		}
		_, code, body, err := dialFrom(srv, u.Token, "127.0.9.4")
		if err == nil || code != http.StatusTooManyRequests || !strings.Contains(body, "too many open sockets from your address") {
			t.Fatalf("4th socket from one address: %v (%d %q), want 429", err, code, body)
		}
		ws, code, body, err := dialFrom(srv, u.Token, "127.0.9.5")
		if err != nil {
			t.Fatalf("from another address: %v (%d %q)", err, code, body)
		}
		ws.Close()
	})
}
