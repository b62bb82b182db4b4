package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// apiToken signs name in through the API and returns the bearer token.
func (e *siteEnv) apiToken(name string) string {
	e.t.Helper()
	code, body := e.api(http.MethodPost, "/api/sign-ins", "", `{"username":"`+name+`","password":"password-`+name+`-1"}`)
	var out struct{ Token string }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || out.Token == "" {
		e.t.Fatalf("sign in %s: %d %s", name, code, body)
	}
	return out.Token
}

// api sends a JSON request (body "" for none) with token, if any, and
// returns the status and body.
func (e *siteEnv) api(method, path, token, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.t.Context(), method, e.url+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestEditAndDeleteVideoAPI: PUT and DELETE /api/videos/{id} work for the
// owner and admins only, refuse bad input with a status that says what
// is wrong, and a deleted video is 410 while its annotations stay in the
// log for auditors.
func TestEditAndDeleteVideoAPI(t *testing.T) {
	e := newSiteEnv(t)
	carol, alice, dave := e.apiToken("carol"), e.apiToken("alice"), e.apiToken("dave")
	path := "/api/videos/" + strconv.FormatInt(e.video.ID, 10)
	good := `{"title":"Launch talk, fixed","url":"https://example.com/launch.mp4"}`
	for _, c := range []struct {
		name, method, path, token, body string
		status                          int
		says                            string
	}{
		{"no token", "PUT", path, "", good, 401, "sign in first"},
		{"not the owner", "PUT", path, alice, good, 403, "forbidden"},
		{"not the owner, bad input", "PUT", path, alice, `{"title":""}`, 403, "forbidden"},
		{"not the owner deletes", "DELETE", path, alice, "", 403, "forbidden"},
		{"no such video", "PUT", "/api/videos/999", carol, good, 404, "not found"},
		{"not an id", "DELETE", "/api/videos/x", carol, "", 404, "not found"},
		{"not JSON", "PUT", path, carol, `title=x`, 400, "malformed JSON"},
		{"no url", "PUT", path, carol, `{"title":"x"}`, 400, "send both title and url"},
		{"empty title", "PUT", path, carol, `{"title":" ","url":"https://example.com/v.mp4"}`, 422, "title"},
		{"script URL", "PUT", path, carol, `{"title":"x","url":"javascript:alert(1)"}`, 422, "url"},
		{"too large", "PUT", path, carol, `{"title":"` + strings.Repeat("x", 70<<10) + `","url":"https://example.com"}`, 413, "too large"},
		{"the owner", "PUT", path, carol, good, 200, `"title":"Launch talk, fixed"`},
	} {
		if code, body := e.api(c.method, c.path, c.token, c.body); code != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s: %s %s = %d %s, want %d with %q", c.name, c.method, c.path, code, body, c.status, c.says)
		}
	}
	if code, body := e.api("GET", path, "", ""); code != 200 || !strings.Contains(body, `"slug":"launch-talk-fixed"`) || !strings.Contains(body, `"user_id":`+strconv.FormatInt(e.ids["carol"], 10)) {
		t.Errorf("after the edit: %d %s", code, body)
	}

	// An admin may change anyone's video.
	other := e.videoOf(t, "alice")
	otherPath := "/api/videos/" + strconv.FormatInt(other, 10)
	if code, body := e.api("PUT", otherPath, dave, `{"title":"Renamed by an admin","url":"https://example.com/a.mp4"}`); code != 200 {
		t.Errorf("admin's edit: %d %s", code, body)
	}
	if code, body := e.api("DELETE", otherPath, dave, ""); code != 204 {
		t.Errorf("admin's delete: %d %s", code, body)
	}

	if code, body := e.api("DELETE", path, carol, ""); code != 204 || body != "" {
		t.Fatalf("owner's delete: %d %s", code, body)
	}
	for _, c := range [][2]string{{"GET", ""}, {"PUT", good}, {"DELETE", ""}} {
		if code, body := e.api(c[0], path, carol, c[1]); code != 410 || !strings.Contains(body, "this video was deleted") {
			t.Errorf("%s of a deleted video: %d %s", c[0], code, body)
		}
	}
	if code, body := e.api("GET", "/api/videos?limit=50", "", ""); code != 200 || strings.Contains(body, `"id":`+strconv.FormatInt(e.video.ID, 10)+`,`) {
		t.Errorf("the list still holds the deleted video: %s", body)
	}
	// The auditors' trail still holds its annotations.
	e.sync()
	bob := e.apiToken("bob")
	code, body := e.api("GET", "/api/audit/annotations?video="+strconv.FormatInt(e.video.ID, 10), bob, "")
	if code != 200 || strings.Count(body, "annotation_posted") != 3 {
		t.Errorf("audit trail of the deleted video: %d %s", code, body)
	}
}

// videoOf adds a video as name and returns its id.
func (e *siteEnv) videoOf(t *testing.T, name string) int64 {
	t.Helper()
	code, body := e.api("POST", "/api/videos", e.apiToken(name), `{"title":"`+name+`'s video","url":"https://example.com/`+name+`.mp4"}`)
	var v struct{ ID int64 }
	if code != 201 || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("add a video as %s: %d %s", name, code, body)
	}
	return v.ID
}
