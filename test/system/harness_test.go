package system

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/internal/testenv"
	"github.com/videologue/videologue/personal"
	pkeys "github.com/videologue/videologue/personal/pebble"
)

// testSecret signs the tokens of every server the tests start.
const testSecret = "system-test-secret-0123456789abcdef-0123456789"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds ./cmd/videologue once per test process.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "videologue-system-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "videologue")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/videologue/videologue/cmd/videologue")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// server is a videologue serve child process that can be killed and
// restarted on the same address with the same data.
type server struct {
	t     testing.TB
	bin   string
	addr  string
	data  string
	args  []string
	logs  *os.File
	cmd   *exec.Cmd
	exit  chan error
	Kills int
}

// startServer runs videologue serve on a free port with a fresh data
// directory; extra are added to its flags.
func startServer(t testing.TB, extra ...string) *server {
	t.Helper()
	// Simulated hosts sign in from addresses across 127.0.0.0/8, which
	// Linux routes to loopback (other systems may not).
	l0, err := net.Listen("tcp", "127.0.1.2:0")
	testenv.Require(t, "the whole 127.0.0.0/8 range on loopback (Linux)", err == nil)
	l0.Close()
	s := serverAt(t, filepath.Join(t.TempDir(), "data"), extra...)
	s.start()
	return s
}

// serverAt is a server, not yet started, on a free port with the data
// directory data; extra are added to its flags.
func serverAt(t testing.TB, data string, extra ...string) *server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logs, err := os.Create(filepath.Join(t.TempDir(), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, bin: binary(t), addr: addr, data: data, args: extra, logs: logs}
	t.Cleanup(func() {
		if s.cmd != nil {
			_ = s.cmd.Process.Kill()
			<-s.exit
		}
		logs.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("server log (tail):\n%s", b)
		}
	})
	return s
}

func (s *server) start() {
	s.t.Helper()
	args := append([]string{"serve", "--addr", s.addr, "--data", s.data, "--secret", testSecret, "--node", "system"}, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd, s.exit = cmd, make(chan error, 1)
	go func() { s.exit <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url("/healthz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-s.exit:
			s.cmd = nil
			s.t.Fatalf("server exited while starting: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatal("server did not become healthy in 30s")
		}
	}
}

// kill SIGKILLs the server and waits for it to be gone.
func (s *server) kill() {
	s.Kills++
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exit
	s.cmd = nil
}

// stop sends SIGTERM and returns the process's exit error.
func (s *server) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exit:
		s.cmd = nil
		return err
	case <-time.After(30 * time.Second):
		s.t.Fatal("server did not stop within 30s of SIGTERM")
		return nil
	}
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

func (s *server) wsURL(token string) string {
	return "ws://" + s.addr + "/socket/websocket?vsn=2.0.0&token=" + token
}

// httpFrom is an HTTP client whose connections come from the loopback
// address ip, so that per-address limits apply per simulated host.
func httpFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
	}
}

// call sends a JSON request and decodes the JSON answer into out.
func call(c *http.Client, method, url, token string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %d %q: %w", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, nil
}

// user is a signed-in account.
type user struct {
	ID    int64
	Name  string
	Token string
	IP    string
}

// signUp registers name from loopback address ip and signs it in.
func (s *server) signUp(t testing.TB, name, ip string) user {
	t.Helper()
	c := httpFrom(ip)
	creds := map[string]string{"username": name, "password": "correct horse battery " + name}
	if code, err := call(c, "POST", s.url("/api/users"), "", creds, nil); err != nil || code != http.StatusCreated {
		t.Fatalf("register %s: %d %v", name, code, err)
	}
	var out struct {
		Token string `json:"token"`
		User  struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	if code, err := call(c, "POST", s.url("/api/sign-ins"), "", creds, &out); err != nil || code != http.StatusOK {
		t.Fatalf("sign in %s: %d %v", name, code, err)
	}
	return user{ID: out.User.ID, Name: name, Token: out.Token, IP: ip}
}

// signUpMany signs up n users named prefix-i concurrently, user i from
// loopback address 127.<net>.<i/250>.<i%250+2>.
func (s *server) signUpMany(t testing.TB, prefix string, netOctet, n int) []user {
	t.Helper()
	users := make([]user, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ip := fmt.Sprintf("127.%d.%d.%d", netOctet, i/250, i%250+2)
			users[i] = s.signUp(t, prefix+strconv.Itoa(i), ip)
		})
	}
	wg.Wait()
	return users
}

// addVideo creates a video as u and returns its id.
func (s *server) addVideo(t testing.TB, u user, title string) int64 {
	t.Helper()
	var v struct {
		ID int64 `json:"id"`
	}
	code, err := call(httpFrom(u.IP), "POST", s.url("/api/videos"), u.Token,
		map[string]string{"title": title, "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"}, &v)
	if err != nil || code != http.StatusCreated || v.ID == 0 {
		t.Fatalf("add video: %d %v", code, err)
	}
	return v.ID
}

// logAnnotation is an annotation as the log has it.
type logAnnotation struct {
	ID   int64
	Body string
}

// openKeys opens the key store of a stopped server's data directory
// with the development data key the servers of these tests run with, to
// read the texts the log holds sealed.
// Close the key store with close before the server starts again.
func openKeys(t testing.TB, data string) (keys *personal.Keyring, close func()) {
	t.Helper()
	ks, err := pkeys.Open(filepath.Join(data, "keys"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	dk, err := personal.DataKey(devDataKey)
	if err == nil {
		keys, err = personal.NewKeyring(ks, dk)
	}
	if err != nil {
		ks.Close()
		t.Fatal(err)
	}
	return keys, func() { ks.Close() }
}

// devDataKey is the data key of servers in development mode
// (cmd/videologue's keys.go).
const devDataKey = "videologue-development-data-key-do-not-use-in-production"

// readLog opens the stopped server's data directory and returns each
// video's posted annotations in stream order.
func (s *server) readLog(t testing.TB, videos []int64) map[int64][]logAnnotation {
	t.Helper()
	if s.cmd != nil {
		t.Fatal("readLog needs the server stopped")
	}
	st, err := pebble.Open(s.data, pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, closeKeys := openKeys(t, s.data)
	defer closeKeys()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make(map[int64][]logAnnotation)
	for _, v := range videos {
		var from uint64
		for {
			evs, err := st.ReadStream(ctx, domain.VideoStream(v), eventstore.Forwards, from, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if ev.Type != domain.TypeAnnotationPosted {
					continue
				}
				var p domain.AnnotationPosted
				if err := json.Unmarshal(ev.Data, &p); err != nil {
					t.Fatal(err)
				}
				if p.Body, err = keys.Open(ctx, p.UserID, personal.Body, p.Body); err != nil {
					t.Fatal(err)
				}
				out[v] = append(out[v], logAnnotation{ID: domain.IDFromRevision(ev.Revision), Body: p.Body})
			}
			if len(evs) < 1000 {
				break
			}
			from = evs[len(evs)-1].Revision + 1
		}
	}
	return out
}

// frame is a Phoenix v2 frame [join_ref, ref, topic, event, payload].
type frame struct {
	JoinRef, Ref *string
	Topic, Event string
	Payload      json.RawMessage
}

func (f *frame) UnmarshalJSON(b []byte) error {
	var a []json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	if len(a) != 5 {
		return fmt.Errorf("frame of %d elements", len(a))
	}
	_ = json.Unmarshal(a[0], &f.JoinRef)
	_ = json.Unmarshal(a[1], &f.Ref)
	_ = json.Unmarshal(a[2], &f.Topic)
	_ = json.Unmarshal(a[3], &f.Event)
	f.Payload = a[4]
	return nil
}

func (f *frame) ref() string {
	if f.Ref == nil {
		return ""
	}
	return *f.Ref
}

// reply reads a phx_reply's status, response and reason.
func (f *frame) reply() (status string, response json.RawMessage, reason string) {
	var r struct {
		Status   string          `json:"status"`
		Response json.RawMessage `json:"response"`
	}
	_ = json.Unmarshal(f.Payload, &r)
	var why struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(r.Response, &why) != nil || why.Reason == "" {
		_ = json.Unmarshal(f.Payload, &why)
	}
	return r.Status, r.Response, why.Reason
}

// wireAnnotation is an annotation on the wire.
type wireAnnotation struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
	At   int64  `json:"at"`
}

func send(ws *websocket.Conn, joinRef, ref, topic, event string, payload any) error {
	p, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	msg, _ := json.Marshal([]any{nilIfEmpty(joinRef), nilIfEmpty(ref), topic, event, json.RawMessage(p)})
	return ws.WriteMessage(websocket.TextMessage, msg)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func dial(s *server, token string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(s.wsURL(token), nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return ws, err
}
