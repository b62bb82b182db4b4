package system

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/internal/testenv"
)

// mountTmpfs mounts a tmpfs of size (mount's syntax: "8m") on a new
// directory, unmounted when t ends.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	testenv.Require(t, "root and mount(8), to give the server a small tmpfs: "+strings.TrimSpace(string(out)), err == nil)
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fillDisk writes a file in dir until the disk refuses more, and returns
// its name.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for len(chunk) > 0 {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			chunk = chunk[:len(chunk)/2]
		}
	}
	return name
}

// runBinary runs the binary with args and returns its exit code and
// output; it fails t if the command is still running after limit.
func runBinary(t *testing.T, limit time.Duration, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v still running after %s; output:\n%.4000s", args, limit, stderr.String())
	}
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// expectClearFailure checks that a command failed with a message that
// holds want, without a panic's stack trace.
func expectClearFailure(t *testing.T, what string, code int, stdout, stderr, want string) {
	t.Helper()
	if code == 0 || !strings.Contains(stderr, want) || strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") || strings.Contains(stdout, "ok:") {
		t.Fatalf("%s: exit %d, want a non-zero exit saying %q without a stack trace\nstdout: %.2000s\nstderr: %.4000s", what, code, want, stdout, stderr)
	}
}

// poster is a socket joined to a video that posts annotations.
type poster struct {
	ws    *websocket.Conn
	topic string
	n     int
}

func (s *server) poster(t *testing.T, u user, video int64, params map[string]any) (*poster, *frame) {
	t.Helper()
	ws, err := dial(s, u.Token)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	p := &poster{ws: ws, topic: fmt.Sprintf("videos:%d", video)}
	if err := send(ws, "j", "j", p.topic, "phx_join", params); err != nil {
		t.Fatal(err)
	}
	f := readUntil(t, ws, func(f *frame) bool { return f.Event == "phx_reply" && f.ref() == "j" })
	if f == nil {
		t.Fatal("no join reply")
	}
	return p, f
}

// post sends one annotation and returns its id, or the reason it was
// refused ("" with ok false when the socket ended).
func (p *poster) post(t *testing.T, body string) (id int64, reason string, ok bool) {
	t.Helper()
	p.n++
	ref := fmt.Sprint("p", p.n)
	if send(p.ws, "j", ref, p.topic, "new_annotation", map[string]any{"body": body, "at": p.n}) != nil {
		return 0, "", false
	}
	f := readUntil(t, p.ws, func(f *frame) bool { return f.Event == "phx_reply" && f.ref() == ref })
	if f == nil {
		return 0, "", false
	}
	status, resp, why := f.reply()
	if status != "ok" {
		return 0, why, true
	}
	var r struct {
		ID int64 `json:"id"`
	}
	_ = json.Unmarshal(resp, &r)
	return r.ID, "", true
}

// A disk that fills while serving: the posts it refuses get "storage
// unavailable", /readyz stops answering 200, the server logs the cause a
// bounded number of times and exits non-zero (a supervisor restarts it).
// Started again on the full disk it exits at once, saying so; once space
// is back it starts, and every acknowledged post is in the log.
func TestFullDisk(t *testing.T) {
	fs := mountTmpfs(t, "8m")
	s := serverAt(t, filepath.Join(fs, "data"), "--load-test")
	s.start()
	u := s.signUp(t, "filler", "127.0.0.1")
	video := s.addVideo(t, u, "full disk")
	p, _ := s.poster(t, u, video, map[string]any{})
	body := strings.Repeat("the disk fills up. ", 50)
	var acked []int64
	for range 20 {
		id, why, _ := p.post(t, body)
		if id == 0 {
			t.Fatalf("post before the disk is full: %q", why)
		}
		acked = append(acked, id)
	}
	filler := fillDisk(t, fs)

	refused := ""
	for i := 0; i < 20000 && refused == ""; i++ {
		id, why, ok := p.post(t, body)
		switch {
		case !ok:
			refused = "(socket closed)"
		case id != 0:
			acked = append(acked, id)
		default:
			refused = why
		}
	}
	if refused != "storage unavailable" && refused != "(socket closed)" {
		t.Fatalf("a post on a full disk was refused with %q, want \"storage unavailable\"", refused)
	}
	if resp, err := http.Get(s.url("/readyz")); err == nil {
		if resp.StatusCode == http.StatusOK {
			t.Errorf("/readyz answers 200 on a full disk")
		}
		resp.Body.Close()
	}
	select {
	case err := <-s.exit:
		s.cmd = nil
		if err == nil {
			t.Fatal("the server exited 0 on a full disk")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the server still runs a minute after its disk filled")
	}
	logText, _ := os.ReadFile(s.logs.Name())
	if !strings.Contains(string(logText), "is full: free some space") {
		t.Fatalf("the log does not say the disk is full:\n%.4000s", logText)
	}
	if n := bytes.Count(logText, []byte("\n")); n > 300 {
		t.Fatalf("the server logged %d lines about a full disk", n)
	}
	t.Logf("%d posts acknowledged, then refused with %q; %d log lines", len(acked), refused, bytes.Count(logText, []byte("\n")))

	// On the still-full disk, the server refuses to start, quickly.
	code, stdout, stderr := runBinary(t, 60*time.Second, "serve", "--addr", s.addr, "--data", s.data, "--secret", testSecret)
	expectClearFailure(t, "serve on a full disk", code, stdout, stderr, "is full: free some space")

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s.start()
	if err := s.stop(); err != nil {
		t.Fatalf("stop after space came back: %v", err)
	}
	got := s.readLog(t, []int64{video})[video]
	have := map[int64]bool{}
	for _, a := range got {
		have[a.ID] = true
	}
	for _, id := range acked {
		if !have[id] {
			t.Fatalf("acknowledged annotation %d is not in the log", id)
		}
	}
}

// A damaged file makes serve, audit verify and projections rebuild exit
// non-zero with a message naming the directory, never a stack trace; a
// lost tail is refused until the operator accepts it, and a client that
// saw the lost events is told the history was rewound.
func TestDamagedLog(t *testing.T) {
	s := startServer(t, "--load-test")
	u := s.signUp(t, "keeper", "127.0.0.1")
	video := s.addVideo(t, u, "damage")
	p, _ := s.poster(t, u, video, map[string]any{})
	var last int64
	for i := range 30 {
		id, why, _ := p.post(t, fmt.Sprintf("note %d %s", i, strings.Repeat("x", 200)))
		if id == 0 {
			t.Fatalf("post: %q", why)
		}
		last = id
	}
	p.ws.Close()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	ls := func(pattern string) []string {
		m, _ := filepath.Glob(filepath.Join(s.data, pattern))
		if len(m) == 0 {
			t.Fatalf("no %s in %s", pattern, s.data)
		}
		return m
	}
	tools := func(t *testing.T, data, want string) {
		t.Helper()
		for _, args := range [][]string{
			{"serve", "--addr", s.addr, "--secret", testSecret},
			{"audit", "verify"},
			{"projections", "rebuild"},
		} {
			code, stdout, stderr := runBinary(t, 60*time.Second, append(args, "--data", data)...)
			expectClearFailure(t, strings.Join(args[:2], " "), code, stdout, stderr, want)
		}
	}

	t.Run("damaged manifest", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		if err := os.CopyFS(data, os.DirFS(s.data)); err != nil {
			t.Fatal(err)
		}
		for _, m := range ls("MANIFEST-*") {
			flipAt(t, filepath.Join(data, filepath.Base(m)), 0.5)
		}
		tools(t, data, data)
	})

	t.Run("lost tail", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		if err := os.CopyFS(data, os.DirFS(s.data)); err != nil {
			t.Fatal(err)
		}
		wals := ls("*.log")
		flipAt(t, filepath.Join(data, filepath.Base(wals[len(wals)-1])), 0.6)
		tools(t, data, "accept-loss")

		code, stdout, stderr := runBinary(t, 60*time.Second, "audit", "accept-loss", "--data", data)
		if code != 0 || !strings.Contains(stdout, "accepted") {
			t.Fatalf("accept-loss: exit %d\n%s%s", code, stdout, stderr)
		}
		code, stdout, stderr = runBinary(t, 60*time.Second, "audit", "verify", "--data", data)
		if code != 0 || !strings.Contains(stdout, "ok:") {
			t.Fatalf("verify after accept-loss: exit %d\n%s%s", code, stdout, stderr)
		}
		r := serverAt(t, data)
		r.start()
		// The client saw up to last; the log now ends before it.
		_, f := r.poster(t, u, video, map[string]any{"last_seen_id": last})
		status, resp, reason := f.reply()
		var head struct {
			Head *int64 `json:"head"`
		}
		_ = json.Unmarshal(resp, &head)
		if status != "error" || reason != "history_rewound" || head.Head == nil || *head.Head >= last {
			t.Fatalf("rejoin beyond the head after a lost tail: %s", f.Payload)
		}
	})

	t.Run("damaged read models", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		if err := os.CopyFS(data, os.DirFS(s.data)); err != nil {
			t.Fatal(err)
		}
		for _, m := range ls("readmodels/MANIFEST-*") {
			flipAt(t, filepath.Join(data, "readmodels", filepath.Base(m)), 0.5)
		}
		r := serverAt(t, data)
		r.start()
		logText, _ := os.ReadFile(r.logs.Name())
		if !strings.Contains(string(logText), "read models damaged") {
			t.Fatalf("serve on damaged read models did not say it rebuilt them:\n%.4000s", logText)
		}
		var v struct {
			Title string `json:"title"`
		}
		if code, err := call(httpFrom("127.0.0.1"), "GET", r.url(fmt.Sprintf("/api/videos/%d", video)), u.Token, nil, &v); err != nil || code != http.StatusOK || v.Title != "damage" {
			t.Fatalf("the rebuilt read models: %d %v %+v", code, err, v)
		}
	})
}

// flipAt flips a byte at fraction frac of the file's length.
func flipAt(t *testing.T, path string, frac float64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		t.Fatalf("read %s: %v (%d bytes)", path, err, len(b))
	}
	b[int(float64(len(b))*frac)] ^= 0x5a
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
