package system

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cliRun is one command line's exit code and output.
type cliRun struct {
	Code           int
	Stdout, Stderr string
}

func runCLI(t *testing.T, args ...string) cliRun {
	t.Helper()
	code, stdout, stderr := runBinary(t, 2*time.Minute, args...)
	return cliRun{code, stdout, stderr}
}

// shape is a command's output with what differs between two runs on a
// log that has grown (numbers, hashes, timings) replaced by placeholders,
// and progress bars dropped.
func shape(r cliRun) cliRun {
	norm := func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, "\r") {
				continue // a progress bar
			}
			keep = append(keep, l)
		}
		s = strings.Join(keep, "\n")
		s = regexp.MustCompile(`[0-9a-f]{64}`).ReplaceAllString(s, "HASH")
		s = regexp.MustCompile(`[0-9]+(\.[0-9]+)?(ms|µs|s)\b`).ReplaceAllString(s, "TIME")
		s = regexp.MustCompile(`[0-9]+`).ReplaceAllString(s, "N")
		return regexp.MustCompile(`[ \t]+`).ReplaceAllString(s, " ")
	}
	return cliRun{r.Code, norm(r.Stdout), norm(r.Stderr)}
}

// TestCLIBesideARunningServer runs the operators' commands with the
// server up, through its admin socket, and again with it stopped, on the
// log directly: each prints the same.
func TestCLIBesideARunningServer(t *testing.T) {
	s := startServer(t)
	var bob user
	for _, name := range []string{"ana1", "ana2", "bob"} {
		bob = s.signUp(t, name, "127.0.0.1")
	}
	video := fmt.Sprint(s.addVideo(t, bob, "watched"))
	data := []string{"--data", s.data}

	sock := filepath.Join(s.data, "admin.sock")
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatalf("admin socket: %v", err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket %s has mode %v, want a socket of mode 0600", sock, fi.Mode())
	}

	// A second server on the same directory is refused, and leaves the
	// first one's socket alone.
	second := serverAt(t, s.data)
	code, _, stderr := runBinary(t, time.Minute, "serve", "--addr", second.addr, "--data", s.data, "--secret", testSecret)
	expectClearFailure(t, "a second server on the same data", code, "", stderr, "in use")

	type step struct {
		name string
		args []string
	}
	steps := func(user string) []step {
		return []step{
			{"grant", []string{"users", "grant", user, "analyst", "--note", "on call"}},
			{"grant again", []string{"users", "grant", user, "auditor"}},
			{"revoke", []string{"users", "revoke", user, "auditor"}},
			{"revoke what is not held", []string{"users", "revoke", user, "admin"}},
			{"list", []string{"users", "list"}},
			{"verify", []string{"audit", "verify"}},
			{"status", []string{"projections", "status"}},
			{"trail", []string{"audit", "trail", "--user", user}},
			{"rebuild", []string{"projections", "rebuild"}},
			{"replay", []string{"replay", "annotations", "--video", video, "--format", "csv"}},
			{"replay unknown video", []string{"replay", "state", "--video", "999"}},
			{"unknown role", []string{"users", "grant", user, "emperor"}},
		}
	}
	live := map[string]cliRun{}
	for _, st := range steps("ana1") {
		live[st.name] = runCLI(t, append(st.args, data...)...)
	}
	if r := live["revoke what is not held"]; r.Code == 0 || !strings.Contains(r.Stderr, "does not hold") {
		t.Fatalf("revoking a role not held, server up: %+v", r)
	}
	if got := live["list"].Stdout; !strings.Contains(got, "\tana1\tviewer,analyst\n") || !strings.Contains(got, "\tana2\tviewer\n") {
		t.Fatalf("users list, server up:\n%s", got)
	}
	if r := live["verify"]; r.Code != 0 || !strings.HasPrefix(r.Stdout, "ok: ") {
		t.Fatalf("audit verify, server up: %+v", r)
	}
	if r := live["rebuild"]; r.Code != 0 || !strings.HasPrefix(r.Stdout, "rebuilt activity, audit, replies from ") {
		t.Fatalf("projections rebuild, server up: %+v", r)
	}
	if r := live["replay"]; r.Code != 0 {
		t.Fatalf("replay annotations, server up: %+v", r)
	}
	// The server saw the grant at once: it is in its own read model.
	if r := runCLI(t, append([]string{"users", "list"}, data...)...); r.Stdout != live["list"].Stdout {
		t.Fatalf("list again: %q, then %q", live["list"].Stdout, r.Stdout)
	}

	// A server killed leaves its socket behind: the tools find no one
	// answering and open the log themselves, and the next server
	// replaces the socket.
	s.kill()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the killed server's socket: %v", err)
	}
	if r := runCLI(t, append([]string{"users", "list"}, data...)...); r.Code != 0 || r.Stdout != live["list"].Stdout {
		t.Fatalf("users list beside a stale socket: %+v", r)
	}
	s.start()
	if r := runCLI(t, append([]string{"users", "list"}, data...)...); r.Code != 0 || r.Stdout != live["list"].Stdout {
		t.Fatalf("users list through the restarted server's socket: %+v", r)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("server stopped with %v", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("admin socket left after shutdown: %v", err)
	}
	for _, st := range steps("ana2") {
		stopped := runCLI(t, append(st.args, data...)...)
		if st.name == "list" {
			continue // ana2 is an analyst now: compared below
		}
		if got, want := shape(live[st.name]), shape(stopped); got != want {
			t.Errorf("%s: with the server up\n%+v\nwith it stopped\n%+v", st.name, got, want)
		}
	}
	if got, want := runCLI(t, append([]string{"users", "list"}, data...)...).Stdout, strings.ReplaceAll(live["list"].Stdout, "ana2\tviewer\n", "ana2\tviewer,analyst\n"); got != want {
		t.Fatalf("users list, server stopped:\n%s\nwant\n%s", got, want)
	}
}
