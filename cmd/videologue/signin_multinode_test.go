package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/internal/testenv/pgtest"
)

// Two server processes share one PostgreSQL log. A sign-in started on one
// node works on the other; signing it out on the first closes its socket
// on the second and refuses its token there; a password change on the
// second ends the other sign-ins, wherever they started.
func TestSignOutAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs two servers")
	}
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	bin := buildServer(t)
	a := startNode(t, bin, "node-a", url+sep+"schema="+schema)
	b := startNode(t, bin, "node-b", url+sep+"schema="+schema)

	_, token := register(t, a, "alice")
	other := signInOn(t, a, "alice", "password-123")
	video := httpJSON(t, a.addr, "/api/videos", token, map[string]string{"title": "shared", "url": "https://example.com/v.mp4"})
	topic := "videos:" + strconv.FormatInt(int64(video["id"].(float64)), 10)
	onB := dialPhx(t, b.addr, token, topic)
	onB.join(t, map[string]any{})
	otherOnB := dialPhx(t, b.addr, other, topic)
	otherOnB.join(t, map[string]any{})

	if code := apiStatus(t, "DELETE", a.addr, "/api/sign-ins", token, nil); code != http.StatusNoContent {
		t.Fatalf("sign out on node a: %d", code)
	}
	select {
	case <-onB.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the signed-out token's socket on node b is still open")
	}
	var ce *websocket.CloseError
	if _, _, err := onB.state(); !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("socket on node b ended with %v, want 1008 signed out", err)
	}
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+b.addr+"/socket/websocket?vsn=2.0.0&token="+token, nil); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dial node b with the signed-out token: %v, want 403", err)
	}
	if _, code := httpJSONStatus(t, b.addr, "/api/videos", token, map[string]string{"title": "x", "url": "https://example.com/x.mp4"}); code != http.StatusUnauthorized {
		t.Fatalf("API on node b with the signed-out token: %d, want 401", code)
	}

	// A password change on node b ends alice's sign-in from node a.
	mine := signInOn(t, b, "alice", "password-123")
	if code := apiStatus(t, "PUT", b.addr, "/api/users/me/password", mine, map[string]string{"current_password": "password-123", "new_password": "password-456"}); code != http.StatusNoContent {
		t.Fatalf("change password on node b: %d", code)
	}
	select {
	case <-otherOnB.done:
	case <-time.After(20 * time.Second):
		t.Fatal("a socket of another sign-in is still open after the password change")
	}
	waitFor(t, 20*time.Second, "node a to refuse the other sign-in's token", func() bool {
		_, code := httpJSONStatus(t, a.addr, "/api/videos", other, map[string]string{"title": "x", "url": "https://example.com/x.mp4"})
		return code == http.StatusUnauthorized
	})
	if _, code := httpJSONStatus(t, a.addr, "/api/videos", mine, map[string]string{"title": "y", "url": "https://example.com/y.mp4"}); code != http.StatusCreated {
		t.Fatalf("the sign-in that changed the password, on node a: %d", code)
	}
}

func signInOn(t testing.TB, n *node, username, password string) string {
	t.Helper()
	out, code := httpJSONStatus(t, n.addr, "/api/sign-ins", "", map[string]string{"username": username, "password": password})
	if code != http.StatusOK {
		t.Fatalf("sign in %s on %s: %d %v", username, n.name, code, out)
	}
	return out["token"].(string)
}

func apiStatus(t testing.TB, method, addr, path, token string, body any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+addr+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
