package system

import (
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

// pageClient is a browser: cookies kept, redirects not followed.
type pageClient struct {
	t    testing.TB
	srv  *server
	http *http.Client
}

func newPageClient(t testing.TB, srv *server, ip string) *pageClient {
	jar, _ := cookiejar.New(nil)
	c := httpFrom(ip)
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &pageClient{t: t, srv: srv, http: c}
}

// copyOf is another browser holding p's cookies, as a thief would.
func (p *pageClient) copyOf(ip string) *pageClient {
	q := newPageClient(p.t, p.srv, ip)
	u, _ := url.Parse(p.srv.url("/"))
	q.http.Jar.SetCookies(u, p.http.Jar.Cookies(u))
	return q
}

func (p *pageClient) get(path string) (int, string) {
	p.t.Helper()
	resp, err := p.http.Get(p.srv.url(path))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// submit posts a form with the CSRF token of page.
func (p *pageClient) submit(page, action string, fields url.Values) int {
	p.t.Helper()
	_, body := p.get(page)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		p.t.Fatalf("no form token on %s", page)
	}
	fields.Set("csrf_token", m[1])
	resp, err := p.http.PostForm(p.srv.url(action), fields)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (p *pageClient) socketToken() (string, int) {
	p.t.Helper()
	code, body := p.get("/signin/socket-token")
	m := regexp.MustCompile(`"token":"([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		return "", code
	}
	return m[1], code
}

// heartbeatOK reports whether ws answers a heartbeat.
func heartbeatOK(t testing.TB, ws *websocket.Conn) bool {
	if send(ws, "", "hb", "phoenix", "heartbeat", map[string]any{}) != nil {
		return false
	}
	return readUntil(t, ws, func(f *frame) bool { return f.ref() == "hb" }) != nil
}

// Signing out in the browser ends that sign-in in the real server: its
// open socket is closed with 1008 "signed out", the socket token minted
// before is refused at the next connect, and the cookie, even copied
// elsewhere, neither shows pages as signed in nor mints a socket token.
// The same user's API sign-in, and its socket, carry on.
func TestSignOutClosesTheSocket(t *testing.T) {
	srv := startServer(t)
	api := srv.signUp(t, "alice", "127.0.0.2")
	browser := newPageClient(t, srv, "127.0.0.3")
	if code := browser.submit("/signin", "/signin", url.Values{"username": {"alice"}, "password": {"correct horse battery alice"}}); code != http.StatusSeeOther {
		t.Fatalf("sign in: %d", code)
	}
	token, code := browser.socketToken()
	if code != http.StatusOK {
		t.Fatalf("socket token: %d", code)
	}
	ws, err := dial(srv, url.QueryEscape(token))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	apiWS, err := dial(srv, url.QueryEscape(api.Token))
	if err != nil {
		t.Fatal(err)
	}
	defer apiWS.Close()
	if !heartbeatOK(t, ws) || !heartbeatOK(t, apiWS) {
		t.Fatal("sockets do not answer before sign-out")
	}
	stolen := browser.copyOf("127.0.0.4")

	if code := browser.submit("/videos", "/signout", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("sign out: %d", code)
	}

	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "signed out" {
			t.Fatalf("socket of the signed-out browser ended with %v, want 1008 \"signed out\"", err)
		}
		break
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if _, resp, err := d.Dial(srv.wsURL(url.QueryEscape(token)), nil); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("reconnect with the token minted before sign-out: %v, want 403", err)
	}
	if _, body := stolen.get("/videos"); strings.Contains(body, `class="whoami-name"`) {
		t.Fatal("the copied cookie still shows pages signed in")
	}
	if tok, code := stolen.copyOf("127.0.0.4").socketToken(); tok != "" || code != http.StatusUnauthorized {
		t.Fatalf("the copied cookie minted a socket token: %d", code)
	}
	if !heartbeatOK(t, apiWS) {
		t.Fatal("the API sign-in's socket was closed by the browser's sign-out")
	}
}
