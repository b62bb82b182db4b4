package system

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBackupUnderLoadAndRestore backs up a serving log while a client
// posts, restores the copy into a new directory and serves it: the hash
// chain verifies and every post acknowledged before the backup began is
// in the restored log.
func TestBackupUnderLoadAndRestore(t *testing.T) {
	s := startServer(t, "--load-test")
	u := s.signUp(t, "poster", "127.0.0.1")
	video := s.addVideo(t, u, "backed up")
	p, _ := s.poster(t, u, video, map[string]any{})

	var mu sync.Mutex
	var acked []logAnnotation
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			body := fmt.Sprintf("post %d", i)
			id, reason, ok := p.post(t, body)
			if !ok {
				return
			}
			if reason == "" {
				mu.Lock()
				acked = append(acked, logAnnotation{ID: id, Body: body})
				mu.Unlock()
			}
		}
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !cond() {
			select {
			case <-done:
				t.Fatalf("the poster stopped before %s", what)
			case <-time.After(10 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s within a minute", what)
			}
		}
	}
	waitFor("200 acknowledged posts", func() bool { return count() >= 200 })

	mu.Lock()
	before := append([]logAnnotation(nil), acked...)
	mu.Unlock()
	bk := filepath.Join(t.TempDir(), "backup")
	r := runCLI(t, "backup", "--to", bk, "--data", s.data)
	during := count() - len(before)
	select {
	case <-done:
		t.Fatal("the poster stopped during the backup")
	default:
	}
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "backed up the log") {
		t.Fatalf("backup: %+v", r)
	}
	waitFor("post after the backup", func() bool { return count() > len(before)+during })
	close(stop)
	<-done
	t.Logf("%d posts acknowledged before the backup, %d during it, %d in all", len(before), during, count())

	// A second backup into the same directory is refused.
	if r := runCLI(t, "backup", "--to", bk, "--data", s.data); r.Code == 0 || !strings.Contains(r.Stderr, "exists") {
		t.Fatalf("backup into an existing directory: %+v", r)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	r = runCLI(t, "restore", "--from", bk, "--data", restored)
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "ok: ") {
		t.Fatalf("restore: %+v", r)
	}
	// Not over a directory that holds something, unless forced.
	if r := runCLI(t, "restore", "--from", bk, "--data", restored); r.Code == 0 || !strings.Contains(r.Stderr, "not empty") {
		t.Fatalf("restore over a non-empty directory: %+v", r)
	}

	served := serverAt(t, restored)
	served.start()
	if r := runCLI(t, "audit", "verify", "--data", restored); r.Code != 0 || !strings.HasPrefix(r.Stdout, "ok: ") {
		t.Fatalf("audit verify of the restored log, served: %+v", r)
	}
	if r := runCLI(t, "projections", "status", "--data", restored); r.Code != 0 || !strings.HasPrefix(r.Stdout, "log head: ") {
		t.Fatalf("projections status of the restored log, served: %+v", r)
	}
	if err := served.stop(); err != nil {
		t.Fatalf("restored server stopped with %v", err)
	}
	got := map[int64]string{}
	for _, a := range served.readLog(t, []int64{video})[video] {
		got[a.ID] = a.Body
	}
	for _, a := range before {
		if body, ok := got[a.ID]; !ok || body != a.Body {
			t.Fatalf("annotation %d (%q), acknowledged before the backup, restored as %q (present: %v)", a.ID, a.Body, body, ok)
		}
	}
}
