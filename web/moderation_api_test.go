package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// viewerSocket joins the env's video as name over the real socket and
// returns the socket and the ids of its notes by body.
func (e *siteEnv) viewerSocket(name string) (*websocket.Conn, map[string]int64) {
	e.t.Helper()
	u := "ws" + strings.TrimPrefix(e.url, "http") + "/socket/websocket?vsn=2.0.0&token=" + url.QueryEscape(e.apiToken(name))
	ws, _, err := (&websocket.Dialer{HandshakeTimeout: 10 * time.Second}).Dial(u, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { ws.Close() })
	topic := "videos:" + strconv.FormatInt(e.video.ID, 10)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`["1","1","`+topic+`","phx_join",{}]`)); err != nil {
		e.t.Fatal(err)
	}
	var reply struct {
		Status   string `json:"status"`
		Response struct {
			Annotations []struct {
				ID   int64  `json:"id"`
				Body string `json:"body"`
			} `json:"annotations"`
		} `json:"response"`
	}
	f := readFrame(e.t, ws, func(f [5]json.RawMessage) bool { return string(f[1]) == `"1"` })
	if err := json.Unmarshal(f[4], &reply); err != nil || reply.Status != "ok" {
		e.t.Fatalf("join: %s", f[4])
	}
	ids := map[string]int64{}
	for _, a := range reply.Response.Annotations {
		ids[a.Body] = a.ID
	}
	return ws, ids
}

// readFrame reads ws until a frame matches.
func readFrame(t testing.TB, ws *websocket.Conn, match func([5]json.RawMessage) bool) [5]json.RawMessage {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for a frame: %v", err)
		}
		var f [5]json.RawMessage
		if json.Unmarshal(msg, &f) == nil && match(f) {
			return f
		}
	}
}

// TestModerationItemsAPI: moderators hide a note and dismiss its reports
// over HTTP; the events are those of the socket's hide_annotation and
// dismiss_report, and a viewer's socket sees the note hidden live.
// Without the role, without credentials or with bad input, the request
// is refused with a status that says why, and nothing is written.
func TestModerationItemsAPI(t *testing.T) {
	e := newSiteEnv(t)
	ws, ids := e.viewerSocket("alice")
	rude, other := ids["Watch the left side here"], ids["Same pattern again"]
	if rude == 0 || other == 0 {
		t.Fatalf("notes %v", ids)
	}
	topic := "videos:" + strconv.FormatInt(e.video.ID, 10)
	report := `["1","r1","` + topic + `","report_annotation",{"id":` + strconv.FormatInt(rude, 10) + `,"reason":"rude"}]`
	if err := ws.WriteMessage(websocket.TextMessage, []byte(report)); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, ws, func(f [5]json.RawMessage) bool { return string(f[1]) == `"r1"` }); !strings.Contains(string(f[4]), `"ok"`) {
		t.Fatalf("report: %s", f[4])
	}
	stream := domain.VideoStream(e.video.ID)
	events := func() []eventstore.RecordedEvent {
		evs, err := e.store.ReadStream(t.Context(), stream, eventstore.Forwards, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	item := func(id int64, action string) string {
		return "/api/moderation/videos/" + strconv.FormatInt(e.video.ID, 10) + "/items/" + strconv.FormatInt(id, 10) + "/" + action
	}
	carol, dave := e.apiToken("carol"), e.apiToken("dave")
	long := `{"reason":"` + strings.Repeat("x", domain.MaxReasonBytes+1) + `"}`
	huge := `{"reason":"` + strings.Repeat(`\u0078`, moderationBodyBytes/6+1) + `"}`
	for _, c := range []struct {
		name, path, token, body string
		status                  int
		says                    string
	}{
		{"a viewer hides", item(rude, "hide"), carol, `{"reason":"no"}`, 403, "forbidden"},
		{"a viewer dismisses", item(rude, "dismiss"), carol, `{}`, 403, "forbidden"},
		{"a viewer with bad input", item(rude, "hide"), carol, `nonsense`, 403, "forbidden"},
		{"no credentials", item(rude, "hide"), "", `{"reason":"no"}`, 401, "sign in first"},
		{"no reason to hide", item(rude, "hide"), dave, `{"reason":"  "}`, 422, "reason can't be blank"},
		{"a reason too long", item(rude, "hide"), dave, long, 422, "reason must be at most 500 bytes"},
		{"a body too large", item(rude, "hide"), dave, huge, 413, "request body too large"},
		{"not JSON", item(rude, "hide"), dave, `reason=rude`, 400, "malformed JSON"},
		{"a reason not a string", item(rude, "hide"), dave, `{"reason":5}`, 400, "malformed JSON"},
		{"an unknown item", item(999, "hide"), dave, `{"reason":"rude"}`, 404, "id must be the id of an annotation of this video"},
		{"an unknown video", "/api/moderation/videos/999/items/1/hide", dave, `{"reason":"rude"}`, 404, "not found"},
		{"not an id", "/api/moderation/videos/1/items/x/hide", dave, `{"reason":"rude"}`, 404, "not found"},
		{"no open reports", item(other, "dismiss"), dave, `{}`, 409, "this item has no open reports"},
	} {
		before := len(events())
		code, body := e.api(http.MethodPost, c.path, c.token, c.body)
		if code != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %s, want %d saying %q", c.name, code, body, c.status, c.says)
		}
		if after := len(events()); after != before {
			t.Errorf("%s: %d events written", c.name, after-before)
		}
	}

	// Dismiss, then hide: each is the socket's event, by dave.
	if code, body := e.api(http.MethodPost, item(rude, "dismiss"), dave, `{"reason":"fine"}`); code != http.StatusNoContent {
		t.Fatalf("dismiss: %d %s", code, body)
	}
	if code, body := e.api(http.MethodPost, item(rude, "dismiss"), dave, `{}`); code != http.StatusConflict {
		t.Fatalf("a second dismissal: %d %s", code, body)
	}
	if code, body := e.api(http.MethodPost, item(rude, "hide"), dave, `{"reason":"insults the speaker"}`); code != http.StatusNoContent {
		t.Fatalf("hide: %d %s", code, body)
	}
	f := readFrame(t, ws, func(f [5]json.RawMessage) bool { return string(f[3]) == `"annotation_hidden"` })
	var hidden struct{ ID int64 }
	if json.Unmarshal(f[4], &hidden) != nil || hidden.ID != rude {
		t.Fatalf("annotation_hidden %s, want id %d", f[4], rude)
	}
	evs := events()
	var dismissed domain.ReportsDismissed
	var hid domain.AnnotationHidden
	if n := len(evs); n < 2 || evs[n-2].Type != domain.TypeReportsDismissed || evs[n-1].Type != domain.TypeAnnotationHidden ||
		json.Unmarshal(evs[n-2].Data, &dismissed) != nil || json.Unmarshal(evs[n-1].Data, &hid) != nil ||
		dismissed.AnnotationID != rude || dismissed.UserID != e.ids["dave"] || hid.AnnotationID != rude || hid.UserID != e.ids["dave"] {
		t.Fatalf("the log ends with %s %s, %s %s", evs[len(evs)-2].Type, evs[len(evs)-2].Data, evs[len(evs)-1].Type, evs[len(evs)-1].Data)
	}
	if code, body := e.api(http.MethodPost, item(rude, "hide"), dave, `{"reason":"again"}`); code != http.StatusConflict || !strings.Contains(body, "already hidden") {
		t.Fatalf("a second hide: %d %s", code, body)
	}
}

// cookieClient signs name in through the form and returns the client and
// the CSRF token of its pages.
func (e *siteEnv) cookieClient(name string) (*http.Client, string) {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	token := func(path string) string {
		resp, err := c.Get(e.url + path)
		if err != nil {
			e.t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := csrfInput.FindSubmatch(page)
		if m == nil {
			e.t.Fatal("no CSRF token on " + path)
		}
		return string(m[1])
	}
	resp, err := c.PostForm(e.url+"/signin", url.Values{"username": {name}, "password": {"password-" + name + "-1"}, "csrf_token": {token("/signin")}})
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in %s: %d", name, resp.StatusCode)
	}
	return c, token("/videos")
}

// TestModerationItemsAPIByCookie: the moderators' page signs its hides
// in by cookie, so they must carry its CSRF token: without it, or with
// another sign-in's, the request is refused and nothing is written; a
// viewer's cookie with a valid token gets 403.
func TestModerationItemsAPIByCookie(t *testing.T) {
	e := newSiteEnv(t)
	_, ids := e.viewerSocket("alice")
	id := ids["Watch the left side here"]
	path := "/api/moderation/videos/" + strconv.FormatInt(e.video.ID, 10) + "/items/" + strconv.FormatInt(id, 10) + "/hide"
	dave, daveToken := e.cookieClient("dave")
	carol, carolToken := e.cookieClient("carol")
	post := func(c *http.Client, token string) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.url+path, strings.NewReader(`{"reason":"rude"}`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("X-CSRF-Token", token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	count := func() int {
		evs, err := e.store.ReadStream(t.Context(), domain.VideoStream(e.video.ID), eventstore.Forwards, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	before := count()
	for _, c := range []struct {
		name   string
		client *http.Client
		token  string
		status int
	}{
		{"no token", dave, "", http.StatusForbidden},
		{"another sign-in's token", dave, carolToken, http.StatusForbidden},
		{"a viewer", carol, carolToken, http.StatusForbidden},
	} {
		if got := post(c.client, c.token); got != c.status {
			t.Errorf("%s: %d, want %d", c.name, got, c.status)
		}
	}
	if after := count(); after != before {
		t.Fatalf("refused requests wrote %d events", after-before)
	}
	if got := post(dave, daveToken); got != http.StatusNoContent {
		t.Fatalf("the moderator with the page's token: %d", got)
	}
	if after := count(); after != before+1 {
		t.Fatalf("the hide wrote %d events", after-before)
	}
}
