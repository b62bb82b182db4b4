package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// adminAPI is a siteEnv with an API token for each of its users.
type adminAPI struct {
	*siteEnv
	ts     *testServer // the env's address, for the API and socket helpers
	tokens map[string]string
}

func newAdminAPI(t *testing.T) *adminAPI {
	e := newSiteEnv(t)
	a := &adminAPI{siteEnv: e, ts: &testServer{Server: &httptest.Server{URL: e.url}}, tokens: map[string]string{}}
	for name := range siteUsers {
		a.tokens[name] = a.ts.apiSignIn(t, name, "password-"+name+"-1")
	}
	return a
}

func (a *adminAPI) call(method, path, as string) (int, string) {
	a.t.Helper()
	return a.ts.api(a.t, method, path, a.tokens[as], nil)
}

// lastUsersEvent is the newest event of the users stream.
func (a *adminAPI) lastUsersEvent() eventstore.RecordedEvent {
	a.t.Helper()
	evs, err := a.store.ReadStream(a.t.Context(), domain.UsersStream, eventstore.Backwards, eventstore.End, 1)
	if err != nil || len(evs) != 1 {
		a.t.Fatalf("read the users stream: %v", err)
	}
	return evs[0]
}

func (a *adminAPI) userPath(name string) string {
	return "/api/admin/users/" + strconv.FormatInt(a.ids[name], 10)
}

// TestAdminAPIAuthority: only admins reach the admin API, and a refused
// request changes nothing, whatever its input.
func TestAdminAPIAuthority(t *testing.T) {
	a := newAdminAPI(t)
	carol := a.userPath("carol")
	routes := [][2]string{
		{"GET", "/api/admin/users"},
		{"GET", "/api/admin/users?q=bad%20query&limit=0"},
		{"PUT", carol + "/roles/analyst"},
		{"PUT", "/api/admin/users/nobody/roles/viewer"},
		{"DELETE", carol + "/roles/analyst"},
		{"GET", carol + "/sign-ins"},
		{"DELETE", carol + "/sign-ins"},
		{"DELETE", carol + "/sign-ins/whatever"},
	}
	before := a.lastUsersEvent().Revision
	for _, rt := range routes {
		for _, as := range []string{"", "carol", "alice", "bob"} {
			want := http.StatusForbidden
			if as == "" {
				want = http.StatusUnauthorized
			}
			if code, body := a.call(rt[0], rt[1], as); code != want {
				t.Errorf("%s %s as %q: %d %s, want %d", rt[0], rt[1], as, code, body, want)
			}
		}
	}
	if after := a.lastUsersEvent().Revision; after != before {
		t.Fatalf("refused requests appended to the users stream (revision %d -> %d)", before, after)
	}
	if code, body := a.call("GET", carol+"/sign-ins", "carol"); code != http.StatusForbidden {
		t.Fatalf("carol reading her own sign-ins through the admin API: %d %s", code, body)
	}
	if code, body := a.call("GET", "/api/admin/users", "dave"); code != http.StatusOK || !strings.Contains(body, `"username":"carol"`) {
		t.Fatalf("admin lists users: %d %s", code, body)
	}
}

// TestAdminAPIRoles: grants and revocations are events naming the admin;
// repeating one records nothing; the last admin keeps the role.
func TestAdminAPIRoles(t *testing.T) {
	a := newAdminAPI(t)
	carol := a.userPath("carol")
	code, body := a.call("PUT", carol+"/roles/analyst", "dave")
	if code != http.StatusOK || !strings.Contains(body, `"roles":["analyst"]`) {
		t.Fatalf("grant: %d %s", code, body)
	}
	ev := a.lastUsersEvent()
	var granted domain.RoleGranted
	if err := json.Unmarshal(ev.Data, &granted); err != nil || ev.Type != domain.TypeRoleGranted ||
		granted.UserID != a.ids["carol"] || granted.Role != domain.RoleAnalyst || granted.GrantedBy != a.ids["dave"] {
		t.Fatalf("recorded %s %s", ev.Type, ev.Data)
	}
	if m := eventstore.DecodeMetadata(ev.Metadata); m.UserID != strconv.FormatInt(a.ids["dave"], 10) || m.ClientAddr == "" {
		t.Fatalf("metadata %s", ev.Metadata)
	}
	if code, _ := a.call("PUT", carol+"/roles/analyst", "dave"); code != http.StatusOK || a.lastUsersEvent().Revision != ev.Revision {
		t.Fatalf("granting a held role again: %d, or it was recorded again", code)
	}
	if code, body := a.call("DELETE", carol+"/roles/analyst", "dave"); code != http.StatusOK || !strings.Contains(body, `"roles":[]`) {
		t.Fatalf("revoke: %d %s", code, body)
	}
	ev = a.lastUsersEvent()
	var revoked domain.RoleRevoked
	if err := json.Unmarshal(ev.Data, &revoked); err != nil || ev.Type != domain.TypeRoleRevoked || revoked.RevokedBy != a.ids["dave"] {
		t.Fatalf("recorded %s %s", ev.Type, ev.Data)
	}
	for _, c := range []struct {
		method, path string
		status       int
		contains     string
	}{
		{"PUT", carol + "/roles/viewer", 400, "role must be analyst, auditor or admin"},
		{"PUT", carol + "/roles/root", 400, "role must be"},
		{"PUT", "/api/admin/users/999/roles/analyst", 404, "not found"},
		{"PUT", "/api/admin/users/x/roles/analyst", 404, "not found"},
		{"DELETE", a.userPath("dave") + "/roles/admin", 409, "last admin"},
	} {
		if code, body := a.call(c.method, c.path, "dave"); code != c.status || !strings.Contains(body, c.contains) {
			t.Errorf("%s %s: %d %s, want %d %q", c.method, c.path, code, body, c.status, c.contains)
		}
	}
	if code, body := a.call("PUT", a.userPath("alice")+"/roles/admin", "dave"); code != http.StatusOK {
		t.Fatalf("grant admin: %d %s", code, body)
	}
	if code, body := a.call("DELETE", a.userPath("dave")+"/roles/admin", "dave"); code != http.StatusOK {
		t.Fatalf("revoke own admin with another admin left: %d %s", code, body)
	}
	if code, _ := a.call("GET", "/api/admin/users", "dave"); code != http.StatusForbidden {
		t.Fatalf("dave, no longer admin: %d", code)
	}
	if code, _ := a.call("GET", "/api/admin/users", "alice"); code != http.StatusOK {
		t.Fatalf("alice, now admin: %d", code)
	}
}

func TestAdminAPISearchAndPaging(t *testing.T) {
	a := newAdminAPI(t)
	for _, name := range []string{"anna", "joanna", "Hannah", "zed"} {
		if _, err := a.users.Register(t.Context(), name, "password-123", eventstore.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	type page struct {
		Users []struct {
			Username string `json:"username"`
		} `json:"users"`
		Next *int64 `json:"next"`
	}
	get := func(path string) page {
		t.Helper()
		code, body := a.call("GET", path, "dave")
		var p page
		if code != http.StatusOK || json.Unmarshal([]byte(body), &p) != nil {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		return p
	}
	var got []string
	path := "/api/admin/users?q=ANN&limit=2"
	for range 3 {
		p := get(path)
		for _, u := range p.Users {
			got = append(got, u.Username)
		}
		if p.Next == nil {
			break
		}
		path = fmt.Sprintf("/api/admin/users?q=ANN&limit=2&after=%d", *p.Next)
	}
	if strings.Join(got, ",") != "anna,joanna,Hannah" {
		t.Fatalf("search ANN paged through %v", got)
	}
	if p := get("/api/admin/users?limit=200"); len(p.Users) != len(siteUsers)+4 || p.Next != nil {
		t.Fatalf("all users: %+v", p)
	}
	for q, want := range map[string]string{
		"q=a%20b":                      "q must be part of a username",
		"q=" + strings.Repeat("a", 31): "at most 30",
		"q=%3Cscript%3E":               "q must be part of a username",
		"limit=0":                      "limit must be a whole number from 1 to 200",
		"limit=201":                    "limit must be",
		"after=x":                      "after must be the id of a user",
		"after=-1":                     "after must be",
	} {
		if code, body := a.call("GET", "/api/admin/users?"+q, "dave"); code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("?%s: %d %s, want 400 %q", q, code, body, want)
		}
	}
}

// TestAdminAPIEndsSignIns: an admin sees a user's sign-ins and ends one,
// or all: the tokens stop working and the sockets opened with them close.
func TestAdminAPIEndsSignIns(t *testing.T) {
	a := newAdminAPI(t)
	carol := a.userPath("carol")
	second := a.ts.apiSignIn(t, "carol", "password-carol-1")
	code, body := a.call("GET", carol+"/sign-ins", "dave")
	var list struct {
		SignIns []struct {
			ID   string `json:"id"`
			Via  string `json:"via"`
			Addr string `json:"addr"`
		} `json:"sign_ins"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || len(list.SignIns) != 2 ||
		list.SignIns[0].Via != domain.SignInAPI || list.SignIns[0].Addr == "" {
		t.Fatalf("carol's sign-ins: %d %s", code, body)
	}
	if code, body := a.call("DELETE", carol+"/sign-ins/"+list.SignIns[0].ID, "dave"); code != http.StatusNoContent {
		t.Fatalf("end one: %d %s", code, body)
	}
	// Exactly one of carol's tokens ended: it is refused as signed out,
	// the other still gets as far as the authority check.
	var live string
	ended := 0
	for _, tok := range []string{a.tokens["carol"], second} {
		switch code, _ := a.ts.api(t, "GET", "/api/admin/users", tok, nil); code {
		case http.StatusForbidden:
			live = tok
		case http.StatusUnauthorized:
			ended++
		default:
			t.Fatalf("carol's token after one sign-in ended: %d", code)
		}
	}
	if ended != 1 {
		t.Fatalf("%d of carol's 2 sign-ins ended", ended)
	}
	ws, _ := a.ts.dialSocket(t, live)
	if err := heartbeat(ws); err != nil {
		t.Fatal(err)
	}
	if code, _ := a.call("DELETE", carol+"/sign-ins/"+list.SignIns[0].ID, "dave"); code != http.StatusNotFound {
		t.Fatalf("ending it again: %d", code)
	}
	if code, body := a.call("DELETE", carol+"/sign-ins", "dave"); code != http.StatusNoContent {
		t.Fatalf("end all: %d %s", code, body)
	}
	closedSignedOut(t, ws)
	if code, body := a.call("GET", carol+"/sign-ins", "dave"); code != http.StatusOK || !strings.Contains(body, `"sign_ins":[]`) {
		t.Fatalf("after ending all: %d %s", code, body)
	}
	evs, _ := a.store.ReadStream(t.Context(), domain.SignInsStream, eventstore.Backwards, eventstore.End, 1)
	var out domain.SignedOut
	if len(evs) != 1 || json.Unmarshal(evs[0].Data, &out) != nil || out.By != a.ids["dave"] || out.Reason != domain.SignOutByAdmin {
		t.Fatalf("recorded %s", evs[0].Data)
	}
}
