package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var tokenRe = regexp.MustCompile(`"token":"([^"]+)"`)

// signedIn registers (or signs in) name on a fresh browser.
func (s *testServer) signedIn(t testing.TB, name, password string, register bool) *browser {
	t.Helper()
	b := s.browser(t)
	path := "/signin"
	if register {
		path = "/register"
	}
	resp, body := b.submit(path, path, url.Values{"username": {name}, "password": {password}})
	expect(t, resp, body, http.StatusSeeOther)
	return b
}

// copyOf is another browser holding b's cookies, as a thief would.
func (b *browser) copyOf() *browser {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(b.base)
	jar.SetCookies(u, b.client.Jar.Cookies(u))
	return &browser{t: b.t, base: b.base, client: &http.Client{Jar: jar, CheckRedirect: b.client.CheckRedirect}}
}

func (b *browser) signedInAs() string {
	b.t.Helper()
	_, body := b.get("/videos")
	m := regexp.MustCompile(`class="whoami-name">([^<]+)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// socketToken mints a socket token from b's cookie ("" when refused).
func (b *browser) socketToken() string {
	b.t.Helper()
	resp, body := b.get("/signin/socket-token")
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return tokenRe.FindStringSubmatch(body)[1]
}

// /api/sessions, the earlier name of /api/sign-ins, is a deprecated
// alias: POST signs in and DELETE signs out as they do there.
func TestAPISessionsIsSignIns(t *testing.T) {
	srv := newTestServer(t)
	creds := map[string]string{"username": "dora", "password": "good password 4"}
	if code, body := srv.api(t, "POST", "/api/users", "", creds); code != http.StatusCreated {
		t.Fatalf("register: %d %s", code, body)
	}
	_, want := srv.api(t, "POST", "/api/sign-ins", "", creds)
	code, body := srv.api(t, "POST", "/api/sessions", "", creds)
	m, wm := tokenRe.FindStringSubmatch(body), tokenRe.FindStringSubmatch(want)
	if code != http.StatusOK || m == nil || wm == nil || tokenRe.ReplaceAllString(body, "") != tokenRe.ReplaceAllString(want, "") {
		t.Fatalf("POST /api/sessions: %d %s; want what /api/sign-ins gives: %s", code, body, want)
	}
	for _, token := range []string{m[1], wm[1]} {
		if code, body := srv.api(t, "POST", "/api/videos", token, newVideo); code != http.StatusCreated {
			t.Fatalf("a signed-in token: %d %s", code, body)
		}
	}
	if code, _ := srv.api(t, "DELETE", "/api/sessions", m[1], nil); code != http.StatusNoContent {
		t.Fatalf("DELETE /api/sessions: %d", code)
	}
	if code, _ := srv.api(t, "DELETE", "/api/sign-ins", wm[1], nil); code != http.StatusNoContent {
		t.Fatalf("DELETE /api/sign-ins: %d", code)
	}
	for _, token := range []string{m[1], wm[1]} {
		if code, body := srv.api(t, "POST", "/api/videos", token, newVideo); code != http.StatusUnauthorized || !strings.Contains(body, "sign in again") {
			t.Fatalf("a signed-out token: %d %s", code, body)
		}
	}
}

func (s *testServer) dialSocket(t testing.TB, token string) (*websocket.Conn, int) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.Dial("ws"+strings.TrimPrefix(s.URL, "http")+"/socket/websocket?vsn=2.0.0&token="+url.QueryEscape(token), nil)
	if err != nil {
		if resp == nil {
			t.Fatal(err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { ws.Close() })
	return ws, http.StatusSwitchingProtocols
}

// heartbeat sends a heartbeat and reads until its reply; an error means
// the socket was closed.
func heartbeat(ws *websocket.Conn) error {
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`[null,"hb","phoenix","heartbeat",{}]`)); err != nil {
		return err
	}
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		if strings.Contains(string(msg), `"hb"`) {
			return nil
		}
	}
}

// closedSignedOut reads until the socket ends and checks it was closed
// for its sign-in ending.
func closedSignedOut(t testing.TB, ws *websocket.Conn) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "signed out" {
			t.Fatalf("socket ended with %v, want close 1008 \"signed out\"", err)
		}
		return
	}
}

func (s *testServer) api(t testing.TB, method, path, token string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *testServer) apiSignIn(t testing.TB, name, password string) string {
	t.Helper()
	code, body := s.api(t, "POST", "/api/sign-ins", "", map[string]string{"username": name, "password": password})
	if code != http.StatusOK {
		t.Fatalf("API sign-in of %s: %d %s", name, code, body)
	}
	return tokenRe.FindStringSubmatch(body)[1]
}

var newVideo = map[string]string{"title": "A talk", "url": "https://example.com/a.mp4"}

// After sign-out the cookie, even kept by someone else, no longer opens
// pages as signed in nor mints socket tokens; a socket token minted
// before is refused at connect; an open socket of that sign-in is closed.
// Another sign-in of the same user carries on.
func TestSignOutEndsTheSignIn(t *testing.T) {
	srv := newTestServer(t)
	alice := srv.signedIn(t, "alice", "good password 1", true)
	other := srv.signedIn(t, "alice", "good password 1", false)
	stolen := alice.copyOf()
	if got := stolen.signedInAs(); got != "alice" {
		t.Fatalf("the copied cookie is signed in as %q before sign-out", got)
	}
	token := alice.socketToken()
	open, _ := srv.dialSocket(t, token)
	if err := heartbeat(open); err != nil {
		t.Fatal(err)
	}
	otherWS, _ := srv.dialSocket(t, other.socketToken())

	resp, body := alice.submit("/videos", "/signout", url.Values{})
	expect(t, resp, body, http.StatusSeeOther)

	if got := stolen.signedInAs(); got != "" {
		t.Fatalf("the signed-out cookie still opens pages as %q", got)
	}
	if tok := stolen.copyOf().socketToken(); tok != "" {
		t.Fatal("the signed-out cookie still mints socket tokens")
	}
	if _, code := srv.dialSocket(t, token); code != http.StatusForbidden {
		t.Fatalf("socket token minted before sign-out: connect %d, want 403", code)
	}
	closedSignedOut(t, open)
	if err := heartbeat(otherWS); err != nil {
		t.Fatalf("the other sign-in's socket: %v", err)
	}
	if got := other.signedInAs(); got != "alice" {
		t.Fatalf("the other sign-in is signed in as %q after sign-out elsewhere", got)
	}
}

// A password change ends every other sign-in of the user, pages and API
// tokens, but not the one that made it.
func TestChangePasswordEndsOtherSignIns(t *testing.T) {
	srv := newTestServer(t)
	alice := srv.signedIn(t, "alice", "good password 1", true)
	phone := srv.signedIn(t, "alice", "good password 1", false)
	apiToken := srv.apiSignIn(t, "alice", "good password 1")
	phoneWS, _ := srv.dialSocket(t, phone.socketToken())
	bob := srv.signedIn(t, "bob", "good password 2", true)

	change := func(current, next string) (*http.Response, string) {
		return alice.submit("/account", "/account/password", url.Values{"current_password": {current}, "new_password": {next}})
	}
	resp, body := change("wrong password 1", "new password 22")
	expect(t, resp, body, http.StatusUnprocessableEntity, "That is not your current password.")
	resp, body = change("good password 1", "short")
	expect(t, resp, body, http.StatusUnprocessableEntity, "The new password must be at least 10 characters.")
	if got := phone.signedInAs(); got != "alice" {
		t.Fatal("a refused change ended another sign-in")
	}
	resp, body = change("good password 1", "new password 22")
	expect(t, resp, body, http.StatusSeeOther)
	resp, body = alice.get("/account")
	expect(t, resp, body, 200, "Password changed.", `class="whoami-name">alice<`)

	if got := phone.signedInAs(); got != "" {
		t.Fatalf("the other browser is still signed in as %q", got)
	}
	closedSignedOut(t, phoneWS)
	if code, body := srv.api(t, "POST", "/api/videos", apiToken, newVideo); code != http.StatusUnauthorized {
		t.Fatalf("API token of another sign-in after the change: %d %s", code, body)
	}
	if got := bob.signedInAs(); got != "bob" {
		t.Fatal("another user's sign-in ended")
	}
	if code, _ := srv.api(t, "POST", "/api/sign-ins", "", map[string]string{"username": "alice", "password": "good password 1"}); code != http.StatusUnauthorized {
		t.Fatalf("the old password still signs in: %d", code)
	}
	srv.apiSignIn(t, "alice", "new password 22")
}

// Signing out everywhere ends every sign-in of the user, the asking
// browser's too.
func TestSignOutEverywhere(t *testing.T) {
	srv := newTestServer(t)
	alice := srv.signedIn(t, "alice", "good password 1", true)
	phone := srv.signedIn(t, "alice", "good password 1", false)
	apiToken := srv.apiSignIn(t, "alice", "good password 1")
	ws, _ := srv.dialSocket(t, phone.socketToken())

	resp, body := alice.get("/account")
	expect(t, resp, body, 200, `action="/account/signout-everywhere"`)
	resp, body = alice.submit("/account", "/account/signout-everywhere", url.Values{})
	expect(t, resp, body, http.StatusSeeOther)
	for name, b := range map[string]*browser{"asking browser": alice, "other browser": phone} {
		if got := b.signedInAs(); got != "" {
			t.Fatalf("%s still signed in as %q", name, got)
		}
	}
	closedSignedOut(t, ws)
	if code, _ := srv.api(t, "POST", "/api/videos", apiToken, newVideo); code != http.StatusUnauthorized {
		t.Fatalf("API token after signing out everywhere: %d", code)
	}
}

// The API's own routes: sign out this token, change the password, sign
// out everywhere.
func TestAPISignInsEnd(t *testing.T) {
	srv := newTestServer(t)
	if code, body := srv.api(t, "POST", "/api/users", "", map[string]string{"username": "carol", "password": "good password 3"}); code != http.StatusCreated {
		t.Fatalf("register: %d %s", code, body)
	}
	t1, t2, t3 := srv.apiSignIn(t, "carol", "good password 3"), srv.apiSignIn(t, "carol", "good password 3"), srv.apiSignIn(t, "carol", "good password 3")

	if code, _ := srv.api(t, "DELETE", "/api/sign-ins", t3, nil); code != http.StatusNoContent {
		t.Fatalf("sign out: %d", code)
	}
	if code, body := srv.api(t, "POST", "/api/videos", t3, newVideo); code != http.StatusUnauthorized || !strings.Contains(body, "sign in again") {
		t.Fatalf("signed-out token: %d %s", code, body)
	}

	pw := func(token, current, next string) (int, string) {
		return srv.api(t, "PUT", "/api/users/me/password", token, map[string]string{"current_password": current, "new_password": next})
	}
	if code, body := pw(t1, "not it at all 1", "next password 4"); code != http.StatusUnprocessableEntity || !strings.Contains(body, `"field":"current_password"`) {
		t.Fatalf("wrong current password: %d %s", code, body)
	}
	if code, body := pw(t1, "good password 3", "lettersonly"); code != http.StatusUnprocessableEntity || !strings.Contains(body, `"field":"new_password"`) {
		t.Fatalf("weak new password: %d %s", code, body)
	}
	if code, _ := pw("", "good password 3", "next password 4"); code != http.StatusUnauthorized {
		t.Fatalf("password change without a token: %d", code)
	}
	if code, body := pw(t1, "good password 3", "next password 4"); code != http.StatusNoContent {
		t.Fatalf("change password: %d %s", code, body)
	}
	if code, _ := srv.api(t, "POST", "/api/videos", t1, newVideo); code != http.StatusCreated {
		t.Fatalf("the token that changed the password: %d", code)
	}
	if code, _ := srv.api(t, "POST", "/api/videos", t2, newVideo); code != http.StatusUnauthorized {
		t.Fatalf("another token after the change: %d", code)
	}

	if code, _ := srv.api(t, "DELETE", "/api/users/me/sign-ins", t1, nil); code != http.StatusNoContent {
		t.Fatalf("sign out everywhere: %d", code)
	}
	if code, _ := srv.api(t, "POST", "/api/videos", t1, newVideo); code != http.StatusUnauthorized {
		t.Fatalf("token after signing out everywhere: %d", code)
	}
}

// Password changes are limited per address like sign-ins.
func TestChangePasswordIsRateLimited(t *testing.T) {
	srv := newTestServer(t, func(c *Config) { c.AuthBurst = 4 })
	if code, _ := srv.api(t, "POST", "/api/users", "", map[string]string{"username": "dan", "password": "good password 5"}); code != http.StatusCreated {
		t.Fatal("register")
	}
	tok := srv.apiSignIn(t, "dan", "good password 5")
	for range 2 {
		code, _ := srv.api(t, "PUT", "/api/users/me/password", tok, map[string]string{"current_password": "wrong guess 1", "new_password": "next password 6"})
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("wrong guess: %d", code)
		}
	}
	code, _ := srv.api(t, "PUT", "/api/users/me/password", tok, map[string]string{"current_password": "wrong guess 2", "new_password": "next password 6"})
	if code != http.StatusTooManyRequests {
		t.Fatalf("guess over the limit: %d, want 429", code)
	}
}
