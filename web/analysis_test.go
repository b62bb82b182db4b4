package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/projections"
	"github.com/videologue/videologue/stats"
)

// analysisEnv is the site with its read models, as serve wires it, on a
// real log and read-model database in a temp dir.
type analysisEnv struct {
	t      testing.TB
	url    string
	store  *pebble.Store
	users  *accounts.Service
	runner *projections.Engine
	tokens map[string]string // username -> bearer token
	ids    map[string]int64
}

func newAnalysisEnv(t testing.TB) *analysisEnv {
	t.Helper()
	dir := t.TempDir()
	store, err := pebble.Open(filepath.Join(dir, "log"), pebble.Config{CacheBytes: 8 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	users := accounts.New(store, accounts.Config{Hash: auth.Params{Memory: 64, Time: 1, Threads: 1}}, nil)
	if err := users.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(users.Close)
	videos := catalog.New(store, nil, nil)
	if err := videos.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(videos.Close)
	db, err := projections.Open(filepath.Join(dir, "readmodels"), projections.DBConfig{CacheBytes: 8 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runner, err := projections.New(db, store, projections.Builtin(), projections.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		db.Close()
	})
	secret := []byte("analysis test secret 0123456789")
	tokens, _ := auth.NewTokens(auth.TokenConfig{Secret: secret})
	srv := httptest.NewServer(New(Config{CookieSecret: secret, AuthBurst: 1000, PublicURL: analysisPublicURL}, Deps{
		Accounts: users, Videos: videos, Tokens: tokens,
		Analysis: &AnalysisDeps{ReadModels: db, Users: users, Log: store},
	}, nil))
	t.Cleanup(srv.Close)
	e := &analysisEnv{t: t, url: srv.URL, store: store, users: users, runner: runner, tokens: map[string]string{}, ids: map[string]int64{}}

	// alice is an analyst, bob an auditor, dave an admin, carol a viewer.
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		u, err := users.Register(t.Context(), name, "password-"+name+"-1", eventstore.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		si, err := users.StartSignIn(t.Context(), u.ID, domain.SignInAPI, time.Hour, eventstore.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		e.ids[name], e.tokens[name] = u.ID, tokens.Sign(u.ID, si.ID)
	}
	for name, role := range map[string]domain.Role{"alice": domain.RoleAnalyst, "bob": domain.RoleAuditor, "dave": domain.RoleAdmin} {
		if err := users.Grant(t.Context(), e.ids[name], role, 0, "", eventstore.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	v, err := videos.Add(t.Context(), e.ids["carol"], "Launch <talk>", "https://cdn.example/talk.mp4", eventstore.Metadata{})
	if err != nil || v.ID != 1 {
		t.Fatalf("add video: %+v, %v", v, err)
	}
	post := annotations.New(store, videos, nil)
	viewer := func(typ string, data any) { // from carol's socket c-1, as the channel records it
		b, _ := json.Marshal(data)
		meta := eventstore.Metadata{ConnectionID: "c-1", ClientAddr: "198.51.100.4"}
		if _, err := store.Append(t.Context(), domain.ViewersStream(1), eventstore.Any, eventstore.EventData{Type: typ, Data: b, Metadata: meta.Encode()}); err != nil {
			t.Fatal(err)
		}
	}
	viewer(domain.TypeViewerJoined, domain.ViewerJoined{UserID: e.ids["carol"], Username: "carol", ConnectionID: "Fref-1", Device: "desktop"})
	for i, body := range []string{"first!", "<script>alert(1)</script>", "=1+2"} {
		if _, err := post.Post(t.Context(), 1, e.ids["carol"], "carol", body, int64(3000*(3-i)), eventstore.Metadata{ConnectionID: "c-1", ClientAddr: "198.51.100.4"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := post.Edit(t.Context(), 1, 1, e.ids["carol"], "first, edited", eventstore.Metadata{ConnectionID: "c-1", ClientAddr: "198.51.100.4"}); err != nil {
		t.Fatal(err)
	}
	viewer(domain.TypeViewerLeft, domain.ViewerLeft{UserID: e.ids["carol"], ConnectionID: "Fref-1", Reason: "left"})
	e.sync()
	return e
}

// sync waits for the read models to apply the whole log.
func (e *analysisEnv) sync() {
	e.t.Helper()
	last, err := e.store.ReadAll(e.t.Context(), eventstore.Backwards, eventstore.End, 1)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.t.Context(), 10*time.Second)
	defer cancel()
	if err := e.runner.WaitFor(ctx, last[0].Position); err != nil {
		e.t.Fatal(err)
	}
}

// get sends GET path as user ("" for none) and returns the status and body.
func (e *analysisEnv) get(user, path string) (int, http.Header, string) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.t.Context(), http.MethodGet, e.url+path, nil)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func TestAnalystAndAuditorRoutesRefuseOtherRoles(t *testing.T) {
	e := newAnalysisEnv(t)
	analyst := []string{"/api/videos/1/timeline", "/api/videos/1/state", "/api/videos/1/stats", "/api/videos/1/viewings", "/api/videos/1/sessions", "/api/videos/1/export/annotations"}
	auditor := []string{"/api/audit/annotations", "/api/videos/1/annotations.jsonld", "/api/audit/verify"}
	for _, path := range analyst {
		for user, want := range map[string]int{"": 401, "carol": 403, "bob": 403, "alice": 200, "dave": 200} {
			if code, _, body := e.get(user, path); code != want {
				t.Errorf("GET %s as %q: %d, want %d: %s", path, user, code, want, body)
			}
		}
	}
	for _, path := range auditor {
		for user, want := range map[string]int{"": 401, "carol": 403, "alice": 403, "bob": 200, "dave": 200} {
			if code, _, body := e.get(user, path); code != want {
				t.Errorf("GET %s as %q: %d, want %d: %s", path, user, code, want, body)
			}
		}
	}
	if code, _, body := e.get("carol", "/api/videos/1/timeline"); !strings.Contains(body, `"error":"forbidden"`) {
		t.Errorf("403 body: %d %s", code, body)
	}
	if code, _, _ := e.get("alice", "/api/videos/9/timeline"); code != 404 {
		t.Errorf("unknown video: %d", code)
	}
	if code, _, _ := e.get("alice", "/api/videos/1/timeline?from=yesterday-ish"); code != 400 {
		t.Errorf("bad from: %d", code)
	}
	// The viewers' API beside it is untouched.
	if code, _, body := e.get("", "/api/videos/1"); code != 200 || !strings.Contains(body, "Launch") {
		t.Errorf("GET /api/videos/1: %d %s", code, body)
	}
}

func TestTimelineExports(t *testing.T) {
	e := newAnalysisEnv(t)
	code, h, body := e.get("alice", "/api/videos/1/timeline")
	if code != 200 || h.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("timeline: %d %v", code, h)
	}
	var kinds []string
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, m["kind"].(string))
	}
	want := "viewer_joined,annotation_posted,annotation_posted,annotation_posted,annotation_edited,viewer_left"
	if strings.Join(kinds, ",") != want {
		t.Fatalf("kinds %v, want %s", kinds, want)
	}
	code, h, body = e.get("alice", "/api/videos/1/timeline?format=csv")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if code != 200 || err != nil || len(rows) != 7 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %v %q", code, err, rows)
	}
	if rows[4][8] != "'=1+2" || rows[3][8] != "<script>alert(1)</script>" {
		t.Fatalf("csv bodies: %q %q", rows[4][8], rows[3][8])
	}
	// A window that ends before the first post holds only the join.
	csvBody := body
	_, _, body = e.get("dave", "/api/videos/1/timeline?to="+url.QueryEscape(firstTime(t, csvBody, 2)))
	if strings.Count(body, "\n") != 1 || !strings.Contains(body, "viewer_joined") {
		t.Fatalf("windowed timeline: %q", body)
	}
	// Pages: the first N, then from the time of the last one on.
	_, _, body = e.get("alice", "/api/videos/1/timeline?limit=2")
	if strings.Count(body, "\n") != 2 || !strings.Contains(body, "viewer_joined") || strings.Contains(body, "annotation_edited") {
		t.Fatalf("first page of 2: %q", body)
	}
	_, _, body = e.get("alice", "/api/videos/1/timeline?limit=3&from="+url.QueryEscape(firstTime(t, csvBody, 2)))
	if strings.Count(body, "\n") != 3 || strings.Contains(body, "viewer_joined") || !strings.Contains(body, "annotation_posted") {
		t.Fatalf("a page from the first post: %q", body)
	}
	for _, bad := range []string{"0", "-1", "x", "100001"} {
		if code, _, body := e.get("alice", "/api/videos/1/timeline?limit="+bad); code != 400 || !strings.Contains(body, "limit") {
			t.Errorf("limit=%s: %d %s", bad, code, body)
		}
	}
}

// firstTime returns the time column of CSV row i.
func firstTime(t *testing.T, csvBody string, i int) string {
	rows, err := csv.NewReader(strings.NewReader(csvBody)).ReadAll()
	if err != nil || len(rows) <= i {
		t.Fatalf("rows %v %v", rows, err)
	}
	return rows[i][1]
}

func TestStateStatsAndAuditAPI(t *testing.T) {
	e := newAnalysisEnv(t)
	_, _, body := e.get("alice", "/api/videos/1/state")
	var st projections.State
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Annotations) != 3 || st.Annotations[0].Body != "=1+2" || st.Annotations[2].Body != "first, edited" || len(st.Viewers) != 0 {
		t.Fatalf("state now: %s", body)
	}
	_, _, body = e.get("alice", "/api/videos/1/stats")
	var summary stats.Summary
	if err := json.Unmarshal([]byte(body), &summary); err != nil || summary.Peak != 1 || summary.Posted != 3 || summary.Viewings.Count != 1 {
		t.Fatalf("stats: %s (%v)", body, err)
	}

	code, _, body := e.get("bob", "/api/audit/annotations?user=carol")
	if code != 200 || strings.Count(body, "\n") != 4 || !strings.Contains(body, `"client_addr":"198.51.100.4"`) || !strings.Contains(body, `"connection_id":"c-1"`) {
		t.Fatalf("trail: %d %s", code, body)
	}
	if code, _, body := e.get("bob", "/api/audit/annotations?user=alice"); code != 200 || body != "" {
		t.Fatalf("alice commented nothing: %d %q", code, body)
	}
	if code, _, _ := e.get("bob", "/api/audit/annotations?user=nobody"); code != 404 {
		t.Fatalf("unknown user: %d", code)
	}
	code, h, body := e.get("bob", "/api/videos/1/annotations.jsonld")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/ld+json") || !strings.Contains(body, `"value":"t=3"`) || !strings.Contains(body, `"total":3`) {
		t.Fatalf("jsonld: %d %v %s", code, h, body)
	}
	code, _, body = e.get("bob", "/api/audit/verify")
	if code != 200 || !strings.Contains(body, `"ok":true`) {
		t.Fatalf("verify: %d %s", code, body)
	}
	// The head it reports is an anchor for later checks.
	var rep struct {
		Head     uint64 `json:"head"`
		HeadHash string `json:"head_hash"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil || rep.Head == 0 || len(rep.HeadHash) != 64 {
		t.Fatalf("verify report: %v %s", err, body)
	}
	anchor := func(pos uint64) string {
		return "/api/audit/verify?anchor=" + strconv.FormatUint(pos, 10) + ":" + rep.HeadHash
	}
	if code, _, body := e.get("bob", anchor(rep.Head)); code != 200 {
		t.Fatalf("verify against its own head: %d %s", code, body)
	}
	if code, _, body := e.get("bob", anchor(rep.Head+5)); code != 409 || !strings.Contains(body, "removed from its end") {
		t.Fatalf("verify against an anchor past the end: %d %s", code, body)
	}
	if code, _, body := e.get("bob", anchor(rep.Head-1)); code != 409 || !strings.Contains(body, "rewritten") {
		t.Fatalf("verify against a wrong hash: %d %s", code, body)
	}
	if code, _, body := e.get("bob", "/api/audit/verify?anchor=12:nothex"); code != 400 || !strings.Contains(body, "hexadecimal") {
		t.Fatalf("verify with a malformed anchor: %d %s", code, body)
	}
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signIn signs user in through the sign-in form and returns a client
// with the sign-in cookie.
func (e *analysisEnv) signIn(user string) *http.Client {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(e.url + "/signin")
	if err != nil {
		e.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfInput.FindSubmatch(page)
	if m == nil {
		e.t.Fatal("no CSRF token on /signin")
	}
	resp, err = c.PostForm(e.url+"/signin", url.Values{"username": {user}, "password": {"password-" + user + "-1"}, "csrf_token": {string(m[1])}})
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in %s: %d", user, resp.StatusCode)
	}
	return c
}

func getPage(t *testing.T, c *http.Client, u string) (int, http.Header, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func TestReplayAndAuditPages(t *testing.T) {
	e := newAnalysisEnv(t)
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if code, h, _ := getPage(t, anon, e.url+"/replay/1"); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/signin") {
		t.Fatalf("anonymous replay: %d %v", code, h)
	}
	alice, bob, carol := e.signIn("alice"), e.signIn("bob"), e.signIn("carol")

	code, h, body := getPage(t, alice, e.url+"/replay/1")
	if code != 200 || !strings.Contains(body, `data-video-id="1"`) || !strings.Contains(body, `<script defer src="/static/replay.js`) ||
		!strings.Contains(body, "Launch &lt;talk&gt;") || h.Get("Content-Security-Policy") == "" {
		t.Fatalf("replay page: %d\n%s", code, body)
	}
	if strings.Contains(body, "<script>") {
		t.Fatal("an inline script on the replay page")
	}
	if code, _, body := getPage(t, carol, e.url+"/replay/1"); code != 403 || !strings.Contains(body, "analyst") {
		t.Fatalf("replay as a viewer: %d", code)
	}
	if code, _, _ := getPage(t, alice, e.url+"/replay/42"); code != 404 {
		t.Fatalf("replay of an unknown video: %d", code)
	}
	// The page's script reads the timeline with the sign-in cookie.
	if code, _, body := getPage(t, alice, e.url+"/api/videos/1/timeline"); code != 200 || strings.Count(body, "\n") != 6 {
		t.Fatalf("timeline with the sign-in cookie: %d %q", code, body)
	}
	if code, _, _ := getPage(t, carol, e.url+"/api/videos/1/timeline"); code != 403 {
		t.Fatalf("timeline with a viewer's sign-in: %d", code)
	}
	code, h, js := getPage(t, alice, e.url+"/static/replay.js")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") || !strings.Contains(js, "requestAnimationFrame") {
		t.Fatalf("replay.js: %d %v", code, h)
	}
	if code, _, _ := getPage(t, anon, e.url+"/static/analyst.css"); code != 200 {
		t.Fatalf("analyst.css: %d", code)
	}

	code, _, body = getPage(t, bob, e.url+"/audit?user=carol")
	if code != 200 || strings.Count(body, `<tr class="kind-`) != 4 || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") ||
		!strings.Contains(body, "198.51.100.4") || !strings.Contains(body, `href="/api/audit/annotations?format=csv&amp;user=carol"`) {
		t.Fatalf("audit page: %d\n%s", code, body)
	}
	if code, _, _ := getPage(t, bob, e.url+"/audit?video=x"); code != 400 {
		t.Fatalf("audit page with a bad filter: %d", code)
	}
	if code, _, _ := getPage(t, alice, e.url+"/audit"); code != 403 {
		t.Fatalf("audit page as an analyst: %d", code)
	}
}

// The replay page and the exports keep up with a live log.
func TestAnalysisFollowsTheLog(t *testing.T) {
	e := newAnalysisEnv(t)
	for i := range 50 {
		b, _ := json.Marshal(domain.AnnotationPosted{UserID: e.ids["carol"], Username: "carol", Body: fmt.Sprintf("n%d", i), At: int64(i)})
		if _, err := e.store.Append(t.Context(), domain.VideoStream(1), eventstore.Any, eventstore.EventData{Type: domain.TypeAnnotationPosted, Data: b}); err != nil {
			t.Fatal(err)
		}
	}
	e.sync()
	_, _, body := e.get("alice", "/api/videos/1/export/annotations?format=csv")
	if rows, _ := csv.NewReader(bytes.NewReader([]byte(body))).ReadAll(); len(rows) != 54 {
		t.Fatalf("%d rows after 50 more posts", len(rows))
	}
}

// The auditors' trail of an edit shows what it changed, as the timeline
// does; connection_id is the socket in the timeline and the viewings, so
// that a comment joins the viewing it came from; the presence ref is a
// field of its own.
func TestAuditorsSeeWhatChangedAndTheSocket(t *testing.T) {
	e := newAnalysisEnv(t)
	_, _, body := e.get("bob", "/api/audit/annotations?user=carol")
	var edit map[string]any
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m["kind"] == "annotation_edited" {
			edit = m
		}
	}
	if edit == nil || edit["at"] != float64(9000) || edit["previous_body"] != "first!" || edit["body"] != "first, edited" || edit["username"] != "carol" {
		t.Fatalf("the trail's edit: %v\n%s", edit, body)
	}
	_, _, body = e.get("alice", "/api/videos/1/timeline")
	if !strings.Contains(body, `"kind":"viewer_joined","video_id":1,"user_id":`) || strings.Count(body, `"connection_id":"c-1"`) != 6 || strings.Count(body, `"presence_ref":"Fref-1"`) != 2 {
		t.Fatalf("timeline: %s", body)
	}
	_, _, body = e.get("alice", "/api/videos/1/viewings?format=csv")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][3] != "connection_id" || rows[1][3] != "c-1" || rows[0][9] != "presence_ref" || rows[1][9] != "Fref-1" {
		t.Fatalf("viewings: %q (%v)", rows, err)
	}
}

// /sessions, the viewings' earlier name, is a deprecated alias: it
// answers what /viewings does.
func TestSessionsRouteIsTheViewings(t *testing.T) {
	e := newAnalysisEnv(t)
	for _, q := range []string{"", "?format=ndjson", "?from=0"} {
		code, h, want := e.get("alice", "/api/videos/1/viewings"+q)
		if code != 200 || !strings.Contains(want, `"connection_id":"c-1"`) {
			t.Fatalf("viewings%s: %d %s", q, code, want)
		}
		code, ha, got := e.get("alice", "/api/videos/1/sessions"+q)
		if code != 200 || got != want || ha.Get("Content-Disposition") != h.Get("Content-Disposition") || ha.Get("Content-Type") != h.Get("Content-Type") {
			t.Fatalf("sessions%s: %d %v %s; want %v %s", q, code, ha, got, h, want)
		}
	}
}

// TestStatsWindowIsValidatedBeforeArithmetic: a window that overflows a
// time.Duration, runs backwards or asks for too many points is refused
// with 400 and a message, not computed.
func TestStatsWindowIsValidatedBeforeArithmetic(t *testing.T) {
	e := newAnalysisEnv(t)
	cases := []struct {
		query, want string
	}{
		{"?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z", "may span at most"},
		{"?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z&step=1s", "may span at most"},
		{"?from=0001-01-01T00:00:00Z", "may span at most"},
		{"?from=1970-01-01T00:00:00Z&to=0001-01-01T00:00:00Z", "from must be before to"},
		{"?from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z", "from must be before to"},
		{"?from=2025-03-01T00:00:00Z&to=2025-03-01T00:00:00Z", "from must be before to"},
		{"?from=2025-03-01T00:00:00Z&to=2025-04-01T00:00:00Z&step=1s", "step is too fine"},
	}
	for _, c := range cases {
		code, _, body := e.get("alice", "/api/videos/1/stats"+c.query)
		if code != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("stats%s: %d %.200s; want 400 with %q", c.query, code, body, c.want)
		}
	}
	code, _, body := e.get("alice", "/api/videos/1/stats?from=2025-03-01T00:00:00Z&to=2025-04-01T00:00:00Z&step=1h")
	var st stats.Summary
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || len(st.Viewers) != 31*24 {
		t.Fatalf("a sound window: %d, %d points; want 200 and %d", code, len(st.Viewers), 31*24)
	}
}
