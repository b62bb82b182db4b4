package system

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/internal/testenv"
	"github.com/videologue/videologue/personal"
)

// The book's rejoin recipe, {last_seen_id} and nothing else, in the
// official phoenix client, across a SIGKILL of the real binary: edits and
// deletes of annotations the client already had, made while it was away,
// reach it, and it ends with exactly the log's annotations.
func TestBookRecipeAcrossKillWithEditsAndDeletes(t *testing.T) {
	s := startServer(t)
	author := s.signUp(t, "author", "127.0.0.1")
	reader := s.signUp(t, "reader", "127.0.0.1")
	video := s.addVideo(t, author, "the book's recipe")
	p, _ := s.poster(t, author, video, map[string]any{})
	for i := range 8 {
		if id, why, _ := p.post(t, fmt.Sprintf("note %d", i)); id == 0 {
			t.Fatalf("post: %q", why)
		}
	}

	js := startBookClient(t, s, reader.Token, fmt.Sprintf("videos:%d", video))
	js.expect("join", func(m bookMsg) bool { return m.Type == "joined" && len(m.IDs) == 8 })
	// Live, before the kill: an edit and a delete.
	p.push(t, "edit_annotation", map[string]any{"id": 2, "body": "edited live"})
	p.push(t, "delete_annotation", map[string]any{"id": 3})

	s.kill()
	js.expect("socket close", func(m bookMsg) bool { return m.Type == "close" })
	js.send("hold")
	js.expect("held", func(m bookMsg) bool { return m.Type == "held" })
	s.start()

	// While the client is away: edits and deletes of annotations it has,
	// one of them edited twice, and new posts, one of them then edited and
	// another deleted.
	p, _ = s.poster(t, author, video, map[string]any{})
	p.push(t, "edit_annotation", map[string]any{"id": 1, "body": "edited away"})
	p.push(t, "edit_annotation", map[string]any{"id": 1, "body": "edited away, twice"})
	p.push(t, "delete_annotation", map[string]any{"id": 5})
	p.push(t, "edit_annotation", map[string]any{"id": 8, "body": "the last one seen, edited"})
	var newIDs []int64
	for i := range 3 {
		id, why, _ := p.post(t, fmt.Sprintf("away %d", i))
		if id == 0 {
			t.Fatalf("post: %q", why)
		}
		newIDs = append(newIDs, id)
	}
	p.push(t, "edit_annotation", map[string]any{"id": newIDs[0], "body": "away, edited"})
	p.push(t, "delete_annotation", map[string]any{"id": newIDs[1]})

	js.send("connect")
	js.expect("rejoin", func(m bookMsg) bool { return m.Type == "joined" })
	// A live post after the rejoin marks the end: once the client has it,
	// it has everything before it.
	last, why, _ := p.post(t, "after the rejoin")
	if last == 0 {
		t.Fatalf("post: %q", why)
	}
	var got bookMsg
	for got.ID < last {
		js.send("state")
		got = js.expect("state", func(m bookMsg) bool { return m.Type == "state" })
	}
	js.send("exit")
	js.expect("final", func(m bookMsg) bool { return m.Type == "final" })

	p.ws.Close()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	count, digest := foldVideo(t, s.data, video)
	if got.Count != count || got.Body != digest {
		t.Fatalf("the book's client holds %d annotations (digest %s); the log's fold holds %d (digest %s)", got.Count, got.Body, count, digest)
	}
}

// foldVideo reads the stopped server's log and folds a video's
// annotations as a client must: the number shown and the digest that
// client.mjs computes of them.
func foldVideo(t *testing.T, data string, video int64) (int, string) {
	t.Helper()
	st, err := pebble.Open(data, pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, closeKeys := openKeys(t, data)
	defer closeKeys()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	evs, err := st.ReadStream(ctx, domain.VideoStream(video), eventstore.Forwards, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[int64]string{}
	for _, ev := range evs {
		switch ev.Type {
		case domain.TypeAnnotationPosted:
			var e domain.AnnotationPosted
			mustUnmarshal(t, ev.Data, &e)
			bodies[domain.IDFromRevision(ev.Revision)] = openBody(t, keys, e.UserID, e.Body)
		case domain.TypeAnnotationEdited:
			var e domain.AnnotationEdited
			mustUnmarshal(t, ev.Data, &e)
			bodies[e.AnnotationID] = openBody(t, keys, e.UserID, e.Body)
		case domain.TypeAnnotationDeleted:
			var e domain.AnnotationDeleted
			mustUnmarshal(t, ev.Data, &e)
			delete(bodies, e.AnnotationID)
		}
	}
	ids := make([]int64, 0, len(bodies))
	for id := range bodies {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	h := sha256.New()
	for _, id := range ids {
		fmt.Fprintf(h, "%d:%s\n", id, bodies[id])
	}
	return len(ids), hex.EncodeToString(h.Sum(nil))
}

// openBody is the text of a body that userID's event holds sealed.
func openBody(t *testing.T, keys *personal.Keyring, userID int64, body string) string {
	t.Helper()
	text, err := keys.Open(context.Background(), userID, personal.Body, body)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// push sends an event on the poster's channel and fails the test unless
// it is answered ok.
func (p *poster) push(t *testing.T, event string, payload map[string]any) {
	t.Helper()
	p.n++
	ref := fmt.Sprint("p", p.n)
	if err := send(p.ws, "j", ref, p.topic, event, payload); err != nil {
		t.Fatal(err)
	}
	f := readUntil(t, p.ws, func(f *frame) bool { return f.Event == "phx_reply" && f.ref() == ref })
	if f == nil {
		t.Fatalf("no reply to %s", event)
	}
	if status, _, why := f.reply(); status != "ok" {
		t.Fatalf("%s %v: %s %q", event, payload, status, why)
	}
}

// bookClient runs channels/testdata/phoenixjs/client.mjs, the official
// phoenix client, with VL_STATE=book: it keeps a video's annotations as
// the watch page does and rejoins with {last_seen_id} only.
type bookClient struct {
	t     *testing.T
	stdin io.WriteCloser
	msgs  chan bookMsg
}

type bookMsg struct {
	Type  string  `json:"type"`
	IDs   []int64 `json:"ids"`
	ID    int64   `json:"id"`
	Count int     `json:"count"`
	Body  string  `json:"body"`
	raw   string
}

func startBookClient(t *testing.T, s *server, token, topic string) *bookClient {
	t.Helper()
	node, err := exec.LookPath("node")
	testenv.Require(t, "node on PATH (apt-get install nodejs)", err == nil)
	dir := filepath.Join("..", "..", "channels", "testdata", "phoenixjs")
	_, err = os.Stat(filepath.Join(dir, "node_modules", "phoenix", "package.json"))
	testenv.Require(t, "npm packages in channels/testdata/phoenixjs (run npm ci there)", err == nil)
	cmd := exec.Command(node, "client.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "VL_URL=ws://"+s.addr+"/socket", "VL_TOKEN="+token, "VL_TOPIC="+topic, "VL_STATE=book")
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
	c := &bookClient{t: t, stdin: stdin, msgs: make(chan bookMsg, 1024)}
	go func() {
		defer close(c.msgs)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m bookMsg
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				m.raw = sc.Text()
				c.msgs <- m
			}
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return c
}

func (c *bookClient) send(cmd string) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.stdin, "{\"cmd\":%q}\n", cmd); err != nil {
		c.t.Fatalf("write to node: %v", err)
	}
}

// expect waits for the next message that matches; the client's own
// failures end the test.
func (c *bookClient) expect(what string, match func(bookMsg) bool) bookMsg {
	c.t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatalf("node exited while waiting for %s", what)
			}
			switch m.Type {
			case "join_error", "join_timeout":
				c.t.Fatalf("node client: %s (waiting for %s)", m.raw, what)
			}
			if match(m) {
				return m
			}
		case <-deadline:
			c.t.Fatalf("no %s from the node client within a minute", what)
		}
	}
}
