package system

import (
	"bytes"
	"fmt"
	iofs "io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Flipped bytes across the whole data directory (the log and the read
// models), one at a time on copies, against the binary: `audit verify`
// ends with every event verified up to the original head, or with a clear
// error and a non-zero exit; with a flip in the read models, serve starts
// (rebuilding them) or exits with a clear error. Never a stack trace.
// VIDEOLOGUE_FLIP_SEED repeats a run, VIDEOLOGUE_FLIPS sets how many.
func TestFlippedBytesInDataDir(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("VIDEOLOGUE_FLIP_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	flips := 40
	if v := os.Getenv("VIDEOLOGUE_FLIPS"); v != "" {
		flips, _ = strconv.Atoi(v)
	}
	t.Logf("seed %d (VIDEOLOGUE_FLIP_SEED=%d repeats this run)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	s := startServer(t, "--load-test")
	u := s.signUp(t, "flipper", "127.0.0.1")
	video := s.addVideo(t, u, "flips")
	p, _ := s.poster(t, u, video, map[string]any{})
	for i := range 40 {
		if id, why, _ := p.post(t, fmt.Sprintf("note %d", i)); id == 0 {
			t.Fatalf("post: %q", why)
		}
	}
	p.ws.Close()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	code, want, stderr := runBinary(t, time.Minute, "audit", "verify", "--data", s.data)
	if code != 0 {
		t.Fatalf("verify of the intact log: %s", stderr)
	}
	want = verifiedHead(want)

	type file struct {
		rel  string
		size int64
	}
	var files []file
	var total int64
	_ = filepath.WalkDir(s.data, func(path string, d iofs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, ierr := d.Info(); ierr == nil && info.Size() > 0 {
				rel, _ := filepath.Rel(s.data, path)
				files = append(files, file{rel, info.Size()})
				total += info.Size()
			}
		}
		return err
	})
	var intact, refused, rebuilt int
	for i := range flips {
		off := rng.Int64N(total)
		var f file
		for _, f = range files {
			if off < f.size {
				break
			}
			off -= f.size
		}
		data := filepath.Join(t.TempDir(), "data")
		if err := os.CopyFS(data, os.DirFS(s.data)); err != nil {
			t.Fatal(err)
		}
		flipByteAt(t, filepath.Join(data, f.rel), off, byte(1+rng.IntN(255)))
		what := fmt.Sprintf("flip %d: %s at %d (seed %d)", i, f.rel, off, seed)
		if strings.HasPrefix(f.rel, "readmodels") {
			if err := serveBriefly(t, data); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			rebuilt++
			continue
		}
		code, stdout, stderr := runBinary(t, time.Minute, "audit", "verify", "--data", data)
		switch {
		case code == 0 && verifiedHead(stdout) == want:
			intact++
		case code == 0:
			t.Fatalf("%s: verify says %q, the intact log %q", what, verifiedHead(stdout), want)
		default:
			expectClearFailure(t, what, code, stdout, stderr, data)
			refused++
		}
	}
	t.Logf("%d flips: %d logs verified whole, %d refused naming the damage, %d in the read models served", flips, intact, refused, rebuilt)
}

// verifiedHead is the "ok: N events verified" count and the head line of
// verify's output.
func verifiedHead(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "head:") {
			keep = append(keep, l)
		}
		if n, _, ok := strings.Cut(strings.TrimPrefix(l, "ok: "), " events verified"); ok && strings.HasPrefix(l, "ok: ") {
			keep = append(keep, n)
		}
	}
	return strings.Join(keep, " ")
}

// serveBriefly starts serve on data and stops it once healthy; an exit
// before that must be non-zero and clear.
func serveBriefly(t *testing.T, data string) error {
	t.Helper()
	s := serverAt(t, data)
	args := []string{"serve", "--addr", s.addr, "--data", data, "--secret", testSecret, "--node", "system"}
	cmd := exec.Command(s.bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exit := make(chan error, 1)
	go func() { exit <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(s.url("/healthz")); err == nil {
			resp.Body.Close()
			_ = cmd.Process.Signal(syscall.SIGTERM)
			if err := <-exit; err != nil {
				return fmt.Errorf("serve on damaged read models stopped with %v:\n%.4000s", err, out.String())
			}
			return nil
		}
		select {
		case err := <-exit:
			if err == nil || strings.Contains(out.String(), "goroutine ") || strings.Contains(out.String(), "panic") {
				return fmt.Errorf("serve on damaged read models exited (%v) unclearly:\n%.4000s", err, out.String())
			}
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = cmd.Process.Kill()
	<-exit
	return fmt.Errorf("serve on damaged read models not healthy in 30 s:\n%.4000s", out.String())
}

func flipByteAt(t *testing.T, path string, at int64, mask byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= mask
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
