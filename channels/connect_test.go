package channels_test

import (
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/channels"
)

func TestConnectRefusedBeforeUpgrade(t *testing.T) {
	e := newEnv(t, channels.Config{})
	uid, _, tok := e.user("conn")
	old, err := auth.NewTokens(auth.TokenConfig{Secret: []byte(testSecret), Now: func() time.Time { return time.Now().Add(-48 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	forger, _ := auth.NewTokens(auth.TokenConfig{Secret: []byte("a guessed secret, not the server's")})
	cases := []struct {
		name  string
		token string
	}{
		{"missing", ""},
		{"garbage", "hello"},
		{"forged", forger.Sign(uid, "s1")},
		{"expired", old.Sign(uid, "s1")},
		{"unknown user", e.tokens.Sign(uid+1000, "s1")},
		{"unknown sign-in", e.tokens.Sign(uid, "never-started")},
		{"truncated", tok[:len(tok)-2]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := e.tryDial(tc.token, nil)
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("dial: err %v, response %v; want 403 before upgrade", err, status(resp))
			}
		})
	}
	if n := e.srv.Connections(); n != 0 {
		t.Fatalf("%d connections open after refusals", n)
	}
}

func status(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}

func TestConnectWithSubprotocolToken(t *testing.T) {
	e := newEnv(t, channels.Config{})
	_, _, tok := e.user("sub")
	// What phoenix.js sends for authToken: btoa(token) without padding.
	enc := base64.StdEncoding.EncodeToString([]byte(tok))
	for len(enc) > 0 && enc[len(enc)-1] == '=' {
		enc = enc[:len(enc)-1]
	}
	d := websocket.Dialer{Subprotocols: []string{"phoenix", "base64url.bearer.phx." + enc}}
	ws, resp, err := d.Dial(e.url("vsn=2.0.0"), nil)
	if err != nil {
		t.Fatalf("dial with subprotocol token: %v (%d)", err, status(resp))
	}
	defer ws.Close()
	if ws.Subprotocol() != "phoenix" {
		t.Fatalf("server chose subprotocol %q, want phoenix", ws.Subprotocol())
	}
	d.Subprotocols = []string{"phoenix", "base64url.bearer.phx.bm90IGEgdG9rZW4"}
	if _, resp, err := d.Dial(e.url("vsn=2.0.0"), nil); err == nil || status(resp) != http.StatusForbidden {
		t.Fatalf("bad subprotocol token: %v (%d), want 403", err, status(resp))
	}
}

func TestOriginCheck(t *testing.T) {
	e := newEnv(t, channels.Config{})
	_, _, tok := e.user("origin")
	try := func(origin string) int {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := e.tryDial(tok, h)
		if err == nil {
			c.close()
			return http.StatusSwitchingProtocols
		}
		return status(resp)
	}
	if got := try(""); got != http.StatusSwitchingProtocols {
		t.Errorf("no Origin: %d, want upgrade (native clients send none)", got)
	}
	if got := try("http://" + e.addr); got != http.StatusSwitchingProtocols {
		t.Errorf("same-host Origin: %d, want upgrade", got)
	}
	for _, o := range []string{"http://evil.example", "http://127.0.0.1.evil.example", "null"} {
		if got := try(o); got != http.StatusForbidden {
			t.Errorf("Origin %q: %d, want 403", o, got)
		}
	}

	e2 := newEnv(t, channels.Config{AllowedOrigins: []string{"videologue.example", "app.example:8443"}})
	_, _, tok2 := e2.user("origin")
	for origin, want := range map[string]int{
		"https://videologue.example":     http.StatusSwitchingProtocols,
		"https://videologue.example:444": http.StatusSwitchingProtocols,
		"https://app.example:8443":       http.StatusSwitchingProtocols,
		"https://app.example":            http.StatusForbidden,
		"http://" + e2.addr:              http.StatusForbidden, // not listed
	} {
		h := http.Header{"Origin": {origin}}
		c, resp, err := e2.tryDial(tok2, h)
		got := status(resp)
		if err == nil {
			got = http.StatusSwitchingProtocols
			c.close()
		}
		if got != want {
			t.Errorf("allowed list, Origin %q: %d, want %d", origin, got, want)
		}
	}
}

func TestProtocolVersion(t *testing.T) {
	e := newEnv(t, channels.Config{})
	_, _, tok := e.user("vsn")
	_, resp, err := websocket.DefaultDialer.Dial(e.url("token="+tok+"&vsn=1.0.0"), nil)
	if err == nil || status(resp) != http.StatusBadRequest {
		t.Fatalf("vsn=1.0.0: %v (%d), want 400", err, status(resp))
	}
}
