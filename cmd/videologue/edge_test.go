package main

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// In production, browsers open sockets only from the public site: a page
// under another name that resolves to the server (DNS rebinding) sends a
// matching Host and Origin, and is refused.
func TestProductionSocketsOnlyFromPublicURL(t *testing.T) {
	m := NewMain(ServeConfig{Addr: "127.0.0.1:0", Data: t.TempDir(), Secret: strongSecret, DataKey: strongDataKey, Env: "prod", Node: "t",
		PublicURL: "https://videologue.example"}, slog.New(slog.DiscardHandler))
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	creds := map[string]string{"username": "origin", "password": "password-123"}
	httpJSON(t, m.Addr(), "/api/users", "", creds)
	token := httpJSON(t, m.Addr(), "/api/sign-ins", "", creds)["token"].(string)
	url := "ws://" + m.Addr() + "/socket/websocket?vsn=2.0.0&token=" + token
	for origin, want := range map[string]int{
		"https://videologue.example": http.StatusSwitchingProtocols,
		"http://rebound.example":     http.StatusForbidden,
	} {
		// The Host a browser sends is the name in the page's address.
		h := http.Header{"Origin": {origin}, "Host": {origin[strings.Index(origin, "//")+2:]}}
		d := websocket.Dialer{}
		ws, resp, err := d.Dial(url, h)
		if ws != nil {
			ws.Close()
		}
		if resp == nil {
			t.Fatalf("Origin %s: %v", origin, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Origin %s: %d, want %d", origin, resp.StatusCode, want)
		}
	}
}
