package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/videologue/videologue/web"
)

// TestAPIListsVideosByPage: /api/videos answers pages of at most 200
// (50 by default) with a next cursor, and refuses bad paging with 400.
func TestAPIListsVideosByPage(t *testing.T) {
	s := newSite(t, web.Config{AuthBurst: 1000, VideoRate: 1000, VideoBurst: 1000})
	s.post("/api/users", "", map[string]string{"username": "pat", "password": "password-123"})
	_, body := s.post("/api/sign-ins", "", map[string]string{"username": "pat", "password": "password-123"})
	token := body["token"].(string)
	const n = 57
	for i := range n {
		if code, out := s.post("/api/videos", token, map[string]string{"title": fmt.Sprint("v", i), "url": "https://example.com/v.mp4"}); code != http.StatusCreated {
			t.Fatalf("add %d: %d %v", i, code, out)
		}
	}
	code, out := s.call(http.MethodGet, "/api/videos", "", "", nil)
	if code != 200 || len(out["videos"].([]any)) != 50 || out["next"] != float64(8) {
		t.Fatalf("default page: %d, %d videos, next %v; want 50 and next 8", code, len(out["videos"].([]any)), out["next"])
	}
	seen := map[float64]bool{}
	path := "/api/videos?limit=20"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pages never end")
		}
		code, out := s.call(http.MethodGet, path, "", "", nil)
		if code != 200 {
			t.Fatalf("%s: %d %v", path, code, out)
		}
		for _, v := range out["videos"].([]any) {
			id := v.(map[string]any)["id"].(float64)
			if seen[id] {
				t.Fatalf("video %v on two pages", id)
			}
			seen[id] = true
		}
		if out["next"] == nil {
			break
		}
		path = fmt.Sprintf("/api/videos?limit=20&after=%v", out["next"])
	}
	if len(seen) != n {
		t.Fatalf("pages held %d videos, want %d", len(seen), n)
	}
	for _, q := range []struct{ query, want string }{
		{"limit=0", "limit must be a whole number from 1 to 200"},
		{"limit=201", "limit must be a whole number from 1 to 200"},
		{"limit=ten", "limit must be a whole number from 1 to 200"},
		{"limit=", "limit must be a whole number from 1 to 200"},
		{"after=0", "after must be the id of a video"},
		{"after=-3", "after must be the id of a video"},
		{"after=1e3", "after must be the id of a video"},
	} {
		code, out := s.call(http.MethodGet, "/api/videos?"+q.query, "", "", nil)
		if msg, _ := out["error"].(string); code != 400 || !strings.Contains(msg, q.want) {
			t.Errorf("?%s: %d %v; want 400 with %q", q.query, code, out, q.want)
		}
	}
	if code, out := s.call(http.MethodGet, "/api/videos?limit=200", "", "", nil); code != 200 || len(out["videos"].([]any)) != n || out["next"] != nil {
		t.Fatalf("limit=200: %d %v", code, out["next"])
	}
}

// TestAPIRateLimitsAddingVideos: past the burst a user gets 429 with a
// message and Retry-After, and signing in again does not reset it.
func TestAPIRateLimitsAddingVideos(t *testing.T) {
	s := newSite(t, web.Config{AuthBurst: 1000, VideoRate: 0.001, VideoBurst: 3})
	s.post("/api/users", "", map[string]string{"username": "sam", "password": "password-123"})
	signIn := func() string {
		_, body := s.post("/api/sign-ins", "", map[string]string{"username": "sam", "password": "password-123"})
		return body["token"].(string)
	}
	token := signIn()
	video := map[string]string{"title": "t", "url": "https://example.com/v.mp4"}
	for i := range 3 {
		if code, out := s.post("/api/videos", token, video); code != http.StatusCreated {
			t.Fatalf("add %d: %d %v", i, code, out)
		}
	}
	for _, tok := range []string{token, signIn()} {
		code, out := s.post("/api/videos", tok, video)
		if msg, _ := out["error"].(string); code != http.StatusTooManyRequests || !strings.Contains(msg, "too many videos added: try again in") {
			t.Fatalf("add over the limit: %d %v", code, out)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+"/api/videos", strings.NewReader(`{"title":"t","url":"https://example.com/v.mp4"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Another user on the same address still has their own bucket (and
	// the address's, which is three times larger).
	s.post("/api/users", "", map[string]string{"username": "kim", "password": "password-123"})
	_, body := s.post("/api/sign-ins", "", map[string]string{"username": "kim", "password": "password-123"})
	if code, out := s.post("/api/videos", body["token"].(string), video); code != http.StatusCreated {
		t.Fatalf("another user: %d %v", code, out)
	}
}
