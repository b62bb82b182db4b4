package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/postgres"
	"github.com/videologue/videologue/internal/testenv"
	"github.com/videologue/videologue/internal/testenv/pgtest"
)

// Liveness settings of the nodes under test: short, so that a dead node's
// viewers leave within seconds. The bound the docs state is nodeTimeout
// plus one heartbeat interval (how often live nodes sweep).
const (
	testHeartbeat   = 250 * time.Millisecond
	testNodeTimeout = 1500 * time.Millisecond
)

// Three real server processes share one PostgreSQL log. Viewers on each
// see the others' annotations live and one merged presence list; when a
// node is killed, its client reconnects to another node and ends with
// exactly the log's annotations, and the killed node's viewers leave the
// presence list within the stated bound.
func TestNodesSharePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three servers")
	}
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	// The schema travels in the URL, as an operator may give it.
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	storeURL := url + sep + "schema=" + schema
	bin := buildServer(t)

	a := startNode(t, bin, "node-a", storeURL)
	b := startNode(t, bin, "node-b", storeURL)
	c := startNode(t, bin, "node-c", storeURL)

	// Users register on one node and sign in on their own: accounts are
	// read models each node folds from the shared log.
	alice, aliceToken := register(t, a, "alice")
	bob, bobToken := register(t, b, "bob")
	carol, carolToken := register(t, c, "carol")
	video := httpJSON(t, a.addr, "/api/videos", aliceToken, map[string]string{"title": "shared", "url": "https://example.com/v.mp4"})
	topic := "videos:" + strconv.FormatInt(int64(video["id"].(float64)), 10)

	ca := dialPhx(t, a.addr, aliceToken, topic)
	ca.join(t, map[string]any{})
	cb := dialPhx(t, b.addr, bobToken, topic)
	bobJoin := cb.join(t, map[string]any{})
	cc := dialPhx(t, c.addr, carolToken, topic)
	carolJoin := cc.join(t, map[string]any{})

	// One presence list, merged across the nodes.
	users := []string{alice, bob, carol}
	for name, cl := range map[string]*phxClient{"a": ca, "b": cb, "c": cc} {
		waitFor(t, 10*time.Second, "the client on node "+name+" to list the viewers of every node", func() bool {
			_, p, _ := cl.state()
			return sameSet(presenceUsers(p), users)
		})
	}
	_, p, _ := cb.state()
	aliceRefs := refsOf(p, alice) // alice's viewing on node A

	// Annotations posted on one node arrive live on the others.
	for i := range 5 {
		cb.push(t, bobJoin, "new_annotation", map[string]any{"body": fmt.Sprintf("from b %d", i), "at": i})
	}
	waitSeen(t, ca, 5, "node A's client to see node B's annotations")
	waitSeen(t, cc, 5, "node C's client to see node B's annotations")
	seenA, _, _ := ca.state()

	// Kill node A: no NodeStopped, no ViewerLeft from it.
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-a.exited
	<-ca.done
	for i := range 4 { // posted while alice is away
		cb.push(t, bobJoin, "new_annotation", map[string]any{"body": fmt.Sprintf("while a is down %d", i), "at": 10 + i})
	}

	// Alice reconnects to node B with the last id she saw.
	var lastSeen int64
	for id := range seenA {
		lastSeen = max(lastSeen, id)
	}
	ra := dialPhx(t, b.addr, aliceToken, topic)
	ra.mu.Lock()
	for id, n := range seenA {
		ra.seen[id] = n
	}
	ra.mu.Unlock()
	aliceJoin := ra.join(t, map[string]any{"last_seen_id": lastSeen})
	ra.push(t, aliceJoin, "new_annotation", map[string]any{"body": "alice is back", "at": 20})
	cc.push(t, carolJoin, "new_annotation", map[string]any{"body": "from c", "at": 21})

	// The killed node's viewing leaves the list within the bound.
	bound := testNodeTimeout + testHeartbeat
	waitFor(t, bound+10*time.Second, "node A's viewers to leave the presence list", func() bool {
		_, p, _ := cb.state()
		for _, ref := range aliceRefs {
			if _, ok := p[ref]; ok {
				return false
			}
		}
		return true
	})
	gone := time.Since(killed)
	t.Logf("node A's viewers left the presence list %v after the kill (bound %v)", gone.Round(time.Millisecond), bound)
	// Polling, the presence window and two busy cores add to the bound.
	if slack := 2 * time.Second; gone > bound+slack {
		t.Errorf("node A's viewers left %v after the kill, beyond the bound %v (+%v slack)", gone, bound, slack)
	}
	// Node C folds the same departures from the log; give its
	// subscription and presence window a moment to catch up with B's.
	converged := func() bool {
		_, p, _ = cc.state()
		return sameSet(presenceUsers(p), users) && len(refsOf(p, alice)) == 1
	}
	deadline := time.Now().Add(5 * time.Second)
	for !converged() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !converged() {
		t.Errorf("node C's presence after the failover: %v, want alice once (on node B), bob and carol", p)
	}

	// Every client ends with exactly the log's annotations, each once.
	want := logAnnotations(t, url, schema, topic)
	if len(want) != 11 {
		t.Fatalf("the log holds %d annotations, want 11", len(want))
	}
	for name, cl := range map[string]*phxClient{"alice (reconnected to B)": ra, "bob": cb, "carol": cc} {
		waitSeen(t, cl, len(want), name+" to receive every annotation")
		seen, _, _ := cl.state()
		for id, n := range seen {
			if n != 1 || !want[id] {
				t.Errorf("%s received annotation %d %d times; in the log: %v", name, id, n, want[id])
			}
		}
		if len(seen) != len(want) {
			t.Errorf("%s has %d annotations, the log %d", name, len(seen), len(want))
		}
	}
}

// node is a videologue serve child process.
type node struct {
	name, addr string
	cmd        *exec.Cmd
	exited     chan struct{} // closed once the process has been waited for
	log        string        // its stderr and stdout
}

// buildServer builds this command into a temporary directory.
func buildServer(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	testenv.Require(t, "the go tool on PATH", err == nil)
	bin := filepath.Join(t.TempDir(), "videologue")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startNode starts videologue serve on a free port with its own --data
// and waits until it answers HTTP. The process is stopped when t ends.
func startNode(t *testing.T, bin, name, storeURL string) *node {
	t.Helper()
	return startServe(t, bin, name, []string{"--data", filepath.Join(t.TempDir(), name),
		"--node", name, "--store", "postgres",
		"--heartbeat", testHeartbeat.String(), "--node-timeout", testNodeTimeout.String()},
		"VIDEOLOGUE_STORE_URL="+storeURL)
}

// startServe starts videologue serve with args on a free port, with env
// added to this process's, and waits until it answers HTTP. The process
// is stopped when t ends.
func startServe(t *testing.T, bin, name string, args []string, env ...string) *node {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	n := &node{name: name, addr: addr, exited: make(chan struct{}), log: filepath.Join(t.TempDir(), name+".log")}
	logFile, err := os.Create(n.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	n.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
	n.cmd.Env = append(append(os.Environ(), "VIDEOLOGUE_SECRET="), env...)
	n.cmd.Stdout, n.cmd.Stderr = logFile, logFile
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := n.exited
	go func() {
		_ = n.cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = n.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(n.log)
			t.Logf("--- log of %s ---\n%s", name, b)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			b, _ := os.ReadFile(n.log)
			if bytes.Contains(b, []byte("flag provided but not defined")) {
				t.Fatalf("%s: serve lacks a liveness flag this test needs (--heartbeat, --node-timeout):\n%s", name, b)
			}
			t.Fatalf("%s exited at start:\n%s", name, b)
		default:
		}
		if resp, err := http.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer on %s", name, addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// httpJSON posts body to a node and returns the decoded answer.
func httpJSON(t testing.TB, addr, path, token string, body any) map[string]any {
	t.Helper()
	out, code := httpJSONStatus(t, addr, path, token, body)
	if code >= 300 {
		t.Fatalf("POST %s on %s: %d %v", path, addr, code, out)
	}
	return out
}

func httpJSONStatus(t testing.TB, addr, path, token string, body any) (map[string]any, int) {
	t.Helper()
	bs, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+path, bytes.NewReader(bs))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out, resp.StatusCode
}

// register creates a user on n and signs in there, once n's accounts have
// caught up; it returns the user's id, as presence lists it, and token.
func register(t testing.TB, n *node, username string) (id, token string) {
	t.Helper()
	creds := map[string]string{"username": username, "password": "password-123"}
	u := httpJSON(t, n.addr, "/api/users", "", creds)["user"].(map[string]any)
	var s map[string]any
	waitFor(t, 10*time.Second, username+"'s sign-in on "+n.name, func() bool {
		var code int
		s, code = httpJSONStatus(t, n.addr, "/api/sign-ins", "", creds)
		return code == http.StatusOK
	})
	return strconv.FormatInt(int64(u["id"].(float64)), 10), s["token"].(string)
}

func waitSeen(t testing.TB, c *phxClient, n int, what string) {
	t.Helper()
	waitFor(t, 10*time.Second, what, func() bool {
		seen, _, _ := c.state()
		return len(seen) >= n
	})
}

// logAnnotations reads the ids of the annotations of topic's video from
// the log itself.
func logAnnotations(t testing.TB, url, schema, topic string) map[int64]bool {
	t.Helper()
	st, err := postgres.Open(t.Context(), url, postgres.Config{Schema: schema}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, _ := strconv.ParseInt(strings.TrimPrefix(topic, "videos:"), 10, 64)
	evs, err := st.ReadStream(t.Context(), domain.VideoStream(id), eventstore.Forwards, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]bool{}
	for _, ev := range evs {
		switch ev.Type {
		case domain.TypeAnnotationPosted:
			ids[domain.IDFromRevision(ev.Revision)] = true
		case domain.TypeAnnotationDeleted:
			t.Fatalf("unexpected %s in the log", ev.Type)
		}
	}
	return ids
}

func presenceUsers(p map[string]string) []string {
	var users []string
	for _, u := range p {
		users = append(users, u)
	}
	return users
}

func refsOf(p map[string]string, user string) []string {
	var refs []string
	for ref, u := range p {
		if u == user {
			refs = append(refs, ref)
		}
	}
	return refs
}

// sameSet reports whether got and want hold the same strings, ignoring
// repeats.
func sameSet(got, want []string) bool {
	g, w := map[string]bool{}, map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	for _, s := range want {
		w[s] = true
	}
	if len(g) != len(w) {
		return false
	}
	for s := range w {
		if !g[s] {
			return false
		}
	}
	return true
}
