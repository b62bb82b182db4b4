package channels_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/internal/testenv"
)

// jsClient runs testdata/phoenixjs/client.mjs: the official phoenix npm
// client, in Node, against the test server.
type jsClient struct {
	t      testing.TB
	stdin  io.WriteCloser
	msgs   chan jsMsg
	cmd    *exec.Cmd
	seen   []jsMsg // everything read from msgs
	cursor int     // expect looks from here on
}

type jsMsg struct {
	Type   string  `json:"type"`
	IDs    []int64 `json:"ids"`
	ID     int64   `json:"id"`
	Body   string  `json:"body"`
	Reason string  `json:"reason"`
	Code   int     `json:"code"`
	User   struct {
		ID       int64  `json:"id"`
		Username string `json:"username"`
	} `json:"user"`
	List []struct {
		ID       string `json:"id"`
		Count    int    `json:"count"`
		Username string `json:"username"`
		Device   string `json:"device"`
	} `json:"list"`
	Shapes []map[string]any `json:"shapes"`
	More   bool             `json:"more"`
	Count  int              `json:"count"`
	Rev    int64            `json:"rev"`
	Counts map[string]int   `json:"counts"` // reactions
	// Of replies.
	ParentID int64   `json:"parent_id"`
	Replies  []int64 `json:"replies"`
	raw      string
}

const jsDir = "testdata/phoenixjs"

// requireNode skips (or under CI fails) when Node or the pinned npm
// packages are missing.
func requireNode(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	testenv.Require(t, "node on PATH (apt-get install nodejs)", err == nil)
	for _, pkg := range []string{"phoenix", "ws"} {
		_, err := os.Stat(filepath.Join(jsDir, "node_modules", pkg, "package.json"))
		testenv.Require(t, "npm package "+pkg+" in channels/"+jsDir+" (run npm ci there)", err == nil)
	}
	return node
}

// startJS starts the client; env adds to its environment (see client.mjs).
func startJS(t testing.TB, e *env, token, topic, auth string, env ...string) *jsClient {
	t.Helper()
	return startJSOver(t, e, "websocket", token, topic, auth, env...)
}

// startJSOver starts the client over transport: "websocket" or
// "longpoll" (phoenix's LongPoll).
func startJSOver(t testing.TB, e *env, transport, token, topic, auth string, env ...string) *jsClient {
	t.Helper()
	node := requireNode(t)
	cmd := exec.Command(node, "client.mjs")
	cmd.Dir = jsDir
	cmd.Env = append(os.Environ(), "VL_URL=ws://"+e.addr+"/socket", "VL_TOKEN="+token, "VL_TOPIC="+topic, "VL_AUTH="+auth, "VL_TRANSPORT="+transport)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	js := &jsClient{t: t, stdin: stdin, msgs: make(chan jsMsg, 4096), cmd: cmd}
	go func() {
		defer close(js.msgs)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m jsMsg
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("node printed %q", sc.Text())
				continue
			}
			m.raw = sc.Text()
			js.msgs <- m
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return js
}

func (js *jsClient) send(cmd map[string]any) {
	js.t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := js.stdin.Write(append(b, '\n')); err != nil {
		js.t.Fatalf("write to node: %v", err)
	}
}

// find returns the first message at index from or later that matches,
// and its index, waiting for it; it fails on the client's error reports.
func (js *jsClient) find(from int, what string, match func(jsMsg) bool) (int, jsMsg) {
	js.t.Helper()
	deadline := time.After(20 * time.Second)
	for i := from; ; i++ {
		for i >= len(js.seen) {
			select {
			case m, ok := <-js.msgs:
				if !ok {
					js.t.Fatalf("node exited while waiting for %s", what)
				}
				switch m.Type {
				case "join_error", "join_timeout", "post_error", "post_timeout":
					js.t.Fatalf("node client: %s (waiting for %s)", m.raw, what)
				}
				js.seen = append(js.seen, m)
			case <-deadline:
				js.t.Fatalf("timed out waiting for the node client to report %s", what)
			}
		}
		if match(js.seen[i]) {
			return i, js.seen[i]
		}
	}
}

// expect finds the next match after the previous expect's.
func (js *jsClient) expect(what string, match func(jsMsg) bool) jsMsg {
	js.t.Helper()
	i, m := js.find(js.cursor, what, match)
	js.cursor = i + 1
	return m
}

func TestOfficialPhoenixClient(t *testing.T) {
	requireNode(t)
	e := newEnv(t, permissive())
	jsID, jsName, jsTok := e.user("js")
	goID, goName, goTok := e.user("go")
	vid := e.video(goID)
	topic := "videos:" + itoa(vid)
	for i := range 3 {
		e.post(vid, goID, goName, "history "+itoa(int64(i)))
	}

	js := startJS(t, e, jsTok, topic, "params")
	joined := js.expect("join", func(m jsMsg) bool { return m.Type == "joined" })
	if !equal(joined.IDs, []int64{1, 2, 3}) {
		t.Fatalf("join reply ids %v, want [1 2 3]", joined.IDs)
	}
	shape := joined.Shapes[0]
	for _, k := range []string{"id", "body", "at", "user", "inserted_at"} {
		if _, ok := shape[k]; !ok {
			t.Errorf("annotation lacks %q: %v", k, shape)
		}
	}

	// Presence as the official Presence sees it, with another user.
	gc := e.dial(goTok)
	gj := gc.mustJoin(topic, map[string]any{"last_seen_id": 3})
	js.expect("presence of both users", func(m jsMsg) bool {
		if m.Type != "presence" || len(m.List) != 2 {
			return false
		}
		names := map[string]string{}
		for _, p := range m.List {
			if p.Count != 1 {
				return false
			}
			names[p.ID] = p.Username
		}
		return names[key(jsID)] == jsName && names[key(goID)] == goName
	})

	// A push, its reply and its broadcast, to the sender and to the others.
	js.send(map[string]any{"cmd": "post", "body": "  from <b>node</b>  ", "at": 1234})
	from := js.cursor
	posted := js.expect("post reply", func(m jsMsg) bool { return m.Type == "posted" })
	// The reply goes out when the append returns, the broadcast when the
	// video's hub reads the event back: either may arrive first.
	i, got := js.find(from, "own broadcast", func(m jsMsg) bool { return m.Type == "annotation" && m.ID == posted.ID })
	js.cursor = max(js.cursor, i+1)
	if got.Body != "from <b>node</b>" || got.User.ID != jsID || got.User.Username != jsName {
		t.Fatalf("broadcast %s", got.raw)
	}
	gc.await(0, 5*time.Second, "the node client's annotation", func(f frame) bool { return f.Event == "new_annotation" })
	gc.request(gj, topic, "new_annotation", map[string]any{"body": "from go", "at": 1})
	js.expect("go's annotation", func(m jsMsg) bool { return m.Type == "annotation" && m.Body == "from go" })

	// The server goes away; annotations land while it is down; it comes
	// back on the same address and the client rejoins with last_seen_id.
	log := restartAndCatchUp(t, e, js, vid, goID, goName, goTok, topic, "official")
	t.Logf("official client saw all %d annotations exactly once, in order, across a restart", len(log))
}

func TestOfficialPhoenixClientAuthToken(t *testing.T) {
	requireNode(t)
	e := newEnv(t, channels.Config{})
	uid, _, tok := e.user("sub")
	vid := e.video(uid)
	js := startJS(t, e, tok, "videos:"+itoa(vid), "subprotocol")
	js.expect("join with authToken", func(m jsMsg) bool { return m.Type == "joined" })
	if !strings.HasPrefix(e.addr, "127.0.0.1") {
		t.Fatalf("unexpected address %s", e.addr)
	}
	// A push with an ArrayBuffer payload goes as a binary frame: its own
	// reply fails it, rather than a phx_error it never matches.
	js.send(map[string]any{"cmd": "binary"})
	refused := js.expect("binary push answered", func(m jsMsg) bool { return strings.HasPrefix(m.Type, "binary_") })
	if refused.Type != "binary_error" || refused.Reason != "binary payloads are not supported" {
		t.Fatalf("binary push: %s, want binary_error with the reason", refused.raw)
	}
	js.send(map[string]any{"cmd": "exit"})
	js.expect("final", func(m jsMsg) bool { return m.Type == "final" })
}

// restartAndCatchUp stops the server under js, posts five annotations
// while it is down, starts it again and checks that js rejoins with
// exactly the five, sees presence and later posts, and ends with exactly
// the log's annotations. It returns the log's ids.
func restartAndCatchUp(t *testing.T, e *env, js *jsClient, vid, goID int64, goName, goTok, topic, who string) []int64 {
	t.Helper()
	e.stop()
	js.expect("socket close", func(m jsMsg) bool { return m.Type == "close" })
	st, err := openStore(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := annotations.New(st, nil, nil).Post(t.Context(), vid, goID, goName, "while down "+itoa(int64(i)), 0, eventstore.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	e.start()
	rejoined := js.expect("rejoin", func(m jsMsg) bool { return m.Type == "joined" })
	if len(rejoined.IDs) != 5 {
		t.Fatalf("rejoin reply brought %v, want exactly the 5 missed", rejoined.IDs)
	}
	gc2 := e.dial(goTok)
	gj2 := gc2.mustJoin(topic, map[string]any{})
	for i := range 4 {
		gc2.request(gj2, topic, "new_annotation", map[string]any{"body": "after " + itoa(int64(i)), "at": i})
	}
	mark := js.cursor
	js.find(mark, "presence after restart", func(m jsMsg) bool { return m.Type == "presence" && len(m.List) == 2 })
	log := e.logIDs(vid)
	js.find(mark, "the last annotation", func(m jsMsg) bool { return m.Type == "annotation" && m.ID == log[len(log)-1] })
	js.send(map[string]any{"cmd": "exit"})
	_, final := js.find(mark, "final", func(m jsMsg) bool { return m.Type == "final" })
	if !equal(final.IDs, log) {
		t.Fatalf("the %s client saw %v\nthe log holds %v", who, final.IDs, log)
	}
	return log
}
