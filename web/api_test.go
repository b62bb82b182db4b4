package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/web"
)

type site struct {
	t   testing.TB
	url string
}

func newSite(t testing.TB, cfg web.Config) *site {
	t.Helper()
	st, err := pebble.Open(t.TempDir(), pebble.Config{CacheBytes: 8 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	acc := accounts.New(st, accounts.Config{Hash: auth.Params{Memory: 64, Time: 1, Threads: 1}}, nil)
	if err := acc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(acc.Close)
	cat := catalog.New(st, nil, nil)
	if err := cat.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cat.Close)
	tokens, _ := auth.NewTokens(auth.TokenConfig{Secret: []byte("web-test-secret-0123456789")})
	srv := httptest.NewServer(web.New(cfg, web.Deps{Accounts: acc, Videos: cat, Tokens: tokens}, nil))
	t.Cleanup(srv.Close)
	return &site{t: t, url: srv.URL}
}

// call sends a request and decodes the JSON answer.
func (s *site) call(method, path, token, contentType string, body io.Reader) (int, map[string]any) {
	s.t.Helper()
	req, _ := http.NewRequestWithContext(s.t.Context(), method, s.url+path, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		out = map[string]any{"raw": string(raw)}
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode >= 400 && !strings.HasPrefix(ct, "application/json") {
		s.t.Errorf("%s %s: error with Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, out
}

func (s *site) post(path, token string, body any) (int, map[string]any) {
	b, _ := json.Marshal(body)
	return s.call(http.MethodPost, path, token, "application/json", bytes.NewReader(b))
}

func TestAPIFlow(t *testing.T) {
	s := newSite(t, web.Config{})
	creds := map[string]string{"username": "alice", "password": "password-123"}
	code, body := s.post("/api/users", "", creds)
	if code != http.StatusCreated || body["user"].(map[string]any)["username"] != "alice" || body["user"].(map[string]any)["id"].(float64) != 1 {
		t.Fatalf("register: %d %v", code, body)
	}
	code, body = s.post("/api/sign-ins", "", creds)
	if code != http.StatusOK || body["token"] == "" {
		t.Fatalf("sign in: %d %v", code, body)
	}
	token := body["token"].(string)
	code, body = s.post("/api/videos", token, map[string]string{"title": "My Talk!", "url": "https://example.com/t.mp4"})
	if code != http.StatusCreated || body["id"].(float64) != 1 || body["slug"] != "my-talk" || body["title"] != "My Talk!" || body["url"] != "https://example.com/t.mp4" {
		t.Fatalf("add video: %d %v", code, body)
	}
	if code, body = s.call(http.MethodGet, "/api/videos", "", "", nil); code != 200 || len(body["videos"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, body)
	}
	if code, body = s.call(http.MethodGet, "/api/videos/1", "", "", nil); code != 200 || body["slug"] != "my-talk" {
		t.Fatalf("get: %d %v", code, body)
	}
	if code, _ := s.call(http.MethodGet, "/healthz", "", "", nil); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
}

func TestAPIErrors(t *testing.T) {
	s := newSite(t, web.Config{MaxBodyBytes: 1024, AuthBurst: 1000})
	s.post("/api/users", "", map[string]string{"username": "bob", "password": "password-123"})
	_, body := s.post("/api/sign-ins", "", map[string]string{"username": "bob", "password": "password-123"})
	token := body["token"].(string)
	cases := []struct {
		name        string
		method      string
		path        string
		token       string
		contentType string
		body        string
		status      int
		contains    string
	}{
		{"taken", "POST", "/api/users", "", "application/json", `{"username":"BOB","password":"password-123"}`, 409, "already taken"},
		{"weak password", "POST", "/api/users", "", "application/json", `{"username":"carl","password":"short"}`, 422, "password must be at least"},
		{"bad username", "POST", "/api/users", "", "application/json", `{"username":"../etc","password":"password-123"}`, 422, "username"},
		{"wrong password", "POST", "/api/sign-ins", "", "application/json", `{"username":"bob","password":"password-124"}`, 401, "wrong username or password"},
		{"unknown user", "POST", "/api/sign-ins", "", "application/json", `{"username":"nobody","password":"password-123"}`, 401, "wrong username or password"},
		{"malformed json", "POST", "/api/users", "", "application/json", `{"username":`, 400, "malformed JSON"},
		{"array body", "POST", "/api/users", "", "application/json", `[1,2]`, 400, "malformed JSON"},
		{"two objects", "POST", "/api/users", "", "application/json", `{}{}`, 400, "one object"},
		{"not json", "POST", "/api/users", "", "text/plain", `username=bob`, 415, "application/json"},
		{"no content type", "POST", "/api/users", "", "", `{}`, 415, "application/json"},
		{"too large", "POST", "/api/users", "", "application/json", `{"username":"` + strings.Repeat("a", 2000) + `"}`, 413, "too large"},
		{"no token", "POST", "/api/videos", "", "application/json", `{"title":"t","url":"https://x.example"}`, 401, "sign in"},
		{"forged token", "POST", "/api/videos", "v1.e30.AAAA", "application/json", `{"title":"t","url":"https://x.example"}`, 401, "sign in"},
		{"lone surrogate", "POST", "/api/videos", token, "application/json", `{"title":"t\ud800","url":"https://x.example"}`, 400, "lone UTF-16 surrogate"},
		{"lone surrogate in a name", "POST", "/api/users", "", "application/json", `{"username":"dan","password":"password-\udc00"}`, 400, "lone UTF-16 surrogate"},
		{"bad url", "POST", "/api/videos", token, "application/json", `{"title":"t","url":"javascript:alert(1)"}`, 422, "url"},
		{"unknown video", "GET", "/api/videos/42", "", "", "", 404, "not found"},
		{"bad id", "GET", "/api/videos/abc", "", "", "", 404, "not found"},
		{"unknown route", "GET", "/api/nothing", "", "", "", 404, "not found"},
		{"wrong method", "DELETE", "/api/videos", "", "", "", 405, "not allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			code, out := s.call(tc.method, tc.path, tc.token, tc.contentType, body)
			msg, _ := out["error"].(string)
			if code != tc.status || !strings.Contains(msg, tc.contains) {
				t.Fatalf("got %d %v, want %d with %q", code, out, tc.status, tc.contains)
			}
		})
	}
}

func TestAPIRateLimitsPasswordGuessing(t *testing.T) {
	s := newSite(t, web.Config{AuthRate: 0.001, AuthBurst: 3})
	for i := range 3 {
		if code, _ := s.post("/api/sign-ins", "", map[string]string{"username": "x", "password": "guess-number-1"}); code != 401 {
			t.Fatalf("attempt %d: %d", i, code)
		}
	}
	if code, body := s.post("/api/sign-ins", "", map[string]string{"username": "x", "password": "guess-number-2"}); code != 429 {
		t.Fatalf("attempt over the limit: %d %v", code, body)
	}
}
