package web

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t      testing.TB
	base   string
	client *http.Client
}

func (s *testServer) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: s.URL, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.client.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// submit loads the form page, then posts the form with its CSRF token.
func (b *browser) submit(formPage, action string, fields url.Values) (*http.Response, string) {
	b.t.Helper()
	_, page := b.get(formPage)
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no csrf token on %s", formPage)
	}
	fields.Set(csrfField, m[1])
	return b.post(action, fields)
}

func (b *browser) post(action string, fields url.Values) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.client.PostForm(b.base+action, fields)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func expect(t testing.TB, resp *http.Response, body string, status int, contains ...string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, body)
	}
	for _, c := range contains {
		if !strings.Contains(body, c) {
			t.Fatalf("%s %s: body lacks %q\n%s", resp.Request.Method, resp.Request.URL.Path, c, body)
		}
	}
}

func TestAccountPages(t *testing.T) {
	srv := newTestServer(t)
	alice := srv.browser(t)
	creds := func(u, p string) url.Values { return url.Values{"username": {u}, "password": {p}} }

	resp, body := alice.submit("/register", "/register", creds("alice", "short1"))
	expect(t, resp, body, 422, "Password must be at least 10 characters.")
	resp, body = alice.submit("/register", "/register", creds("alice", "onlyletterspassword"))
	expect(t, resp, body, 422, "Password must mix letters with digits or symbols.")
	resp, body = alice.submit("/register", "/register", creds("a", "good password 1"))
	expect(t, resp, body, 422, "Username must be 2 to 30")
	resp, body = alice.submit("/register", "/register", creds("alice", "good password 1"))
	expect(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/videos" {
		t.Fatalf("after register: Location %q", loc)
	}
	resp, body = alice.get("/videos")
	expect(t, resp, body, 200, "Welcome to Videologue!", `class="whoami-name">alice<`)

	other := srv.browser(t)
	resp, body = other.submit("/register", "/register", creds("ALICE", "another pass 2"))
	expect(t, resp, body, 422, "That username is taken.")
	resp, body = other.submit("/signin", "/signin", creds("alice", "wrong password 1"))
	expect(t, resp, body, http.StatusUnauthorized, "Wrong username or password.")
	resp, body = other.submit("/signin?next=/videos?mine=1", "/signin", url.Values{"username": {"alice"}, "password": {"good password 1"}, "next": {"/videos?mine=1"}})
	expect(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/videos?mine=1" {
		t.Fatalf("after sign-in: Location %q", loc)
	}

	resp, body = alice.submit("/videos", "/signout", url.Values{})
	expect(t, resp, body, http.StatusSeeOther)
	resp, body = alice.get("/")
	expect(t, resp, body, 200, "signed out", `href="/signin"`)
}

func TestSignInCookieAttributes(t *testing.T) {
	srv := newTestServer(t)
	b := srv.browser(t)
	resp, _ := b.submit("/register", "/register", url.Values{"username": {"bob"}, "password": {"good password 1"}})
	var found bool
	for _, c := range resp.Cookies() {
		if c.Name == signInCookie {
			found = true
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Fatalf("sign-in cookie %+v: want HttpOnly, SameSite=Lax", c)
			}
		}
	}
	if !found {
		t.Fatal("no sign-in cookie after register")
	}
}

func TestFormsWithoutCSRFTokenAreRefused(t *testing.T) {
	srv := newTestServer(t)
	b := srv.browser(t)
	b.get("/register") // the browser has its nonce cookie, but the forms below carry no token
	for _, path := range []string{"/register", "/signin", "/signout", "/videos"} {
		resp, body := b.post(path, url.Values{"username": {"mallory"}, "password": {"good password 1"}})
		expect(t, resp, body, http.StatusForbidden, "This form has expired")
	}
	resp, body := b.post("/register", url.Values{"username": {"mallory"}, "password": {"good password 1"}, csrfField: {"forged"}})
	expect(t, resp, body, http.StatusForbidden)
}

func TestVideoPages(t *testing.T) {
	srv := newTestServer(t)
	b := srv.browser(t)
	resp, body := b.get("/videos/new")
	expect(t, resp, body, http.StatusSeeOther)
	b.submit("/register", "/register", url.Values{"username": {"carol"}, "password": {"good password 1"}})

	resp, body = b.submit("/videos/new", "/videos", url.Values{"title": {"Clip"}, "url": {"ftp://example.com/a.mp4"}})
	expect(t, resp, body, 422, "Address must be an http or https address.")
	resp, body = b.submit("/videos/new", "/videos", url.Values{"title": {"  "}, "url": {"https://example.com/a.mp4"}})
	expect(t, resp, body, 422, "Title must be 1 to 200 characters.")

	title := `<script>alert(1)</script> & "Quotes"`
	resp, body = b.submit("/videos/new", "/videos", url.Values{"title": {title}, "url": {"https://example.com/a.mp4"}})
	expect(t, resp, body, http.StatusSeeOther)
	canonical := resp.Header.Get("Location")
	if canonical != "/watch/1-script-alert-1-script-quotes" {
		t.Fatalf("watch URL %q", canonical)
	}
	for _, alias := range []string{"/watch/1", "/watch/1-old-title"} {
		resp, body = b.get(alias)
		expect(t, resp, body, http.StatusMovedPermanently)
		if loc := resp.Header.Get("Location"); loc != canonical {
			t.Fatalf("%s redirects to %q, want %q", alias, loc, canonical)
		}
	}
	resp, body = b.get("/watch/99-nope")
	expect(t, resp, body, http.StatusNotFound, "Not found")

	resp, body = b.get(canonical)
	expect(t, resp, body, 200, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Quotes&#34;", `data-player="media"`, `src="https://example.com/a.mp4"`)
	if strings.Contains(body, "<script>alert") {
		t.Fatal("the title was rendered as markup")
	}
	m := regexp.MustCompile(`<meta name="socket-token" content="([^"]+)">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("watch page has no socket token")
	}
	if id, _, err := srv.tokens.Verify(m[1]); err != nil || id != 1 {
		t.Fatalf("socket token: user %d, %v", id, err)
	}
	resp, body = b.submit("/videos/new", "/videos", url.Values{"title": {"Keynote"}, "url": {"https://youtu.be/dQw4w9WgXcQ"}})
	expect(t, resp, body, http.StatusSeeOther)
	resp, body = b.get(resp.Header.Get("Location"))
	expect(t, resp, body, 200, `data-player="youtube"`, `data-youtube-id="dQw4w9WgXcQ"`)
	resp, body = b.get("/videos?mine=1")
	expect(t, resp, body, 200, "My videos", `href="/watch/1-script-alert-1-script-quotes"`)

	anon := srv.browser(t)
	resp, body = anon.get(canonical)
	expect(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/signin?next="+url.QueryEscape(canonical) {
		t.Fatalf("anonymous watch redirects to %q", loc)
	}
}

func TestSecurityHeadersAndAssets(t *testing.T) {
	srv := newTestServer(t)
	b := srv.browser(t)
	resp, body := b.get("/")
	expect(t, resp, body, 200, `<script defer src="/static/app.js?v=`)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self' https://www.youtube.com;", "frame-src https://www.youtube.com", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Fatalf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Fatalf("CSP allows inline code: %q", csp)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Fatalf("X-Content-Type-Options %q", got)
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
		t.Fatal("the page has inline script or style")
	}
	for path, ctype := range map[string]string{"/static/app.js": "text/javascript", "/static/app.css": "text/css"} {
		resp, body := b.get(path)
		expect(t, resp, body, 200)
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
			t.Fatalf("%s: Content-Type %q", path, resp.Header.Get("Content-Type"))
		}
	}
}

func TestNotFoundPages(t *testing.T) {
	srv := newTestServer(t)
	b := srv.browser(t)
	resp, body := b.get("/no/such/page")
	expect(t, resp, body, http.StatusNotFound, "<h1>Not found</h1>")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("404 page: Content-Type %q, CSP %q", ct, resp.Header.Get("Content-Security-Policy"))
	}
	resp, body = b.get("/api/no/such/thing")
	expect(t, resp, body, http.StatusNotFound, `"error":"not found"`)
}

func TestSignInFormIsRateLimited(t *testing.T) {
	srv := newTestServer(t, func(c *Config) { c.AuthBurst, c.AuthRate = 2, 0.001 })
	b := srv.browser(t)
	wrong := url.Values{"username": {"nobody"}, "password": {"wrong password 1"}}
	for range 2 {
		resp, body := b.submit("/signin", "/signin", wrong)
		expect(t, resp, body, http.StatusUnauthorized)
	}
	resp, body := b.submit("/signin", "/signin", wrong)
	expect(t, resp, body, http.StatusTooManyRequests, "Too many attempts")
}

// A watch page open longer than a socket token lives refreshes its token
// from the sign-in cookie, at /signin/socket-token or at its deprecated
// earlier address, /session/socket-token.
func TestSocketTokenRefresh(t *testing.T) {
	srv := newTestServer(t)
	b := srv.browser(t)
	resp, body := b.get("/signin/socket-token")
	expect(t, resp, body, http.StatusUnauthorized)
	b.submit("/register", "/register", url.Values{"username": {"erin"}, "password": {"good password 1"}})
	resp, body = b.get("/signin/socket-token")
	expect(t, resp, body, 200)
	m := regexp.MustCompile(`"token":"([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no token in %s", body)
	}
	if id, _, err := srv.tokens.Verify(m[1]); err != nil || id != 1 {
		t.Fatalf("token names user %d, %v", id, err)
	}
	resp, body = b.get("/session/socket-token")
	expect(t, resp, body, 200)
	if m := regexp.MustCompile(`"token":"([^"]+)"`).FindStringSubmatch(body); m == nil {
		t.Fatalf("no token in %s", body)
	} else if id, _, err := srv.tokens.Verify(m[1]); err != nil || id != 1 {
		t.Fatalf("token of the deprecated address names user %d, %v", id, err)
	}
}

// TestVideoListPages: the lists are pages with a link to the next, a bad
// page address is a 400 page, and adding videos too fast shows the form
// again with the reason.
func TestVideoListPages(t *testing.T) {
	srv := newTestServer(t, func(c *Config) { c.VideoRate, c.VideoBurst = 0.001, 5 })
	b := srv.browser(t)
	b.submit("/register", "/register", url.Values{"username": {"lena"}, "password": {"good password 1"}})
	for i := range 5 {
		resp, body := b.submit("/videos/new", "/videos", url.Values{"title": {"Clip " + strconv.Itoa(i)}, "url": {"https://example.com/a.mp4"}})
		expect(t, resp, body, http.StatusSeeOther)
	}
	resp, body := b.submit("/videos/new", "/videos", url.Values{"title": {"One more"}, "url": {"https://example.com/a.mp4"}})
	expect(t, resp, body, http.StatusTooManyRequests, "too many videos added: try again in", `value="One more"`)
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	for _, list := range []string{"/videos?limit=2", "/videos?mine=1&limit=2"} {
		var titles []string
		path := list
		for pages := 0; path != ""; pages++ {
			if pages > 3 {
				t.Fatalf("%s: pages never end", list)
			}
			resp, body := b.get(path)
			expect(t, resp, body, http.StatusOK)
			titles = append(titles, regexp.MustCompile(`Clip \d`).FindAllString(body, -1)...)
			path = ""
			if m := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(body); m != nil {
				path = html.UnescapeString(m[1])
			}
		}
		if strings.Join(titles, ",") != "Clip 4,Clip 3,Clip 2,Clip 1,Clip 0" {
			t.Fatalf("%s: pages showed %v", list, titles)
		}
	}
	resp, body = b.get("/videos?limit=500")
	expect(t, resp, body, http.StatusBadRequest, "limit must be a whole number from 1 to 200")
	resp, body = b.get("/videos?after=x")
	expect(t, resp, body, http.StatusBadRequest, "after must be the id of a video")
}
