package main

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
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
)

// aliceAddr is the address the erased user's HTTP requests come from,
// searched for in the raw files with her name and texts.
const aliceAddr = "127.0.0.77"

// fromAddr returns an HTTP client whose connections come from ip.
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// doJSON sends method path with body as JSON (none if nil) and returns
// the decoded answer, failing t unless the status is want.
func doJSON(t testing.TB, c *http.Client, method, addr, path, token string, body any, want int) map[string]any {
	t.Helper()
	var r io.Reader
	if body != nil {
		bs, _ := json.Marshal(body)
		r = bytes.NewReader(bs)
	}
	req, _ := http.NewRequest(method, "http://"+addr+path, r)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %v, want %d", method, path, resp.StatusCode, out, want)
	}
	return out
}

// A user posts and replies in two videos while another watches live, and
// adds, edits and deletes a video of her own from an address of hers;
// the user erases their account. The watcher sees the annotations turn to erased at once,
// the CLI beside the running server lists the erased user, and once the
// server stops no file of the data directory (log, read models, key
// store) holds the user's name, texts or address; audit verify passes; after a
// restart the video's history still reads as erased. A viewer who had
// the video at its current revision and dropped before the erasure is
// sent the erased texts when he rejoins with exactly what he had, from
// the running server and from one that folds the video again.
func TestEraseEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server")
	}
	bin := buildServer(t)
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"--data", data}
	srv := startServe(t, bin, "erase", args)

	const name, secret = "zqalice", "zq-secret-note"
	_, aliceToken := register(t, srv, name)
	_, bobToken := register(t, srv, "bob")
	var topics []string
	for i := range 2 {
		v := httpJSON(t, srv.addr, "/api/videos", bobToken, map[string]string{"title": "v" + strconv.Itoa(i), "url": "https://example.com/v.mp4"})
		topics = append(topics, "videos:"+strconv.FormatInt(int64(v["id"].(float64)), 10))
	}
	bob := dialPhx(t, srv.addr, bobToken, topics[0])
	bobJoin := bob.join(t, map[string]any{})
	bob.push(t, bobJoin, "new_annotation", map[string]any{"body": "bob stays", "at": 1})
	for n, topic := range topics {
		a := dialPhx(t, srv.addr, aliceToken, topic)
		ref := a.join(t, map[string]any{})
		for i := range 3 {
			a.push(t, ref, "new_annotation", map[string]any{"body": secret + " " + strconv.Itoa(i), "at": 10 + i})
		}
		if n == 0 { // a reply to bob's annotation, the video's first
			a.push(t, ref, "new_reply", map[string]any{"parent_id": 1, "body": secret + " reply"})
			// A report and a reaction: the reporter's name and reason are
			// theirs to erase too.
			a.push(t, ref, "report_annotation", map[string]any{"id": 1, "reason": secret + " report"})
			a.push(t, ref, "react", map[string]any{"id": 1, "reaction": "heart", "on": true})
		}
	}
	waitSeen(t, bob, 4, "bob to see alice's annotations live")
	waitFor(t, 10*time.Second, "bob to see alice's reply live", func() bool { return len(bob.textsNow()) == 5 })

	// Alice adds, edits and deletes a video from an address of her own:
	// the catalog's events seal it with her key, so it is gone with it.
	aliceHTTP := fromAddr(aliceAddr)
	v := doJSON(t, aliceHTTP, http.MethodPost, srv.addr, "/api/videos", aliceToken, map[string]string{"title": "mine", "url": "https://example.com/m.mp4"}, http.StatusCreated)
	mine := "/api/videos/" + strconv.FormatInt(int64(v["id"].(float64)), 10)
	doJSON(t, aliceHTTP, http.MethodPut, srv.addr, mine, aliceToken, map[string]string{"title": "mine again", "url": "https://example.com/m.mp4"}, http.StatusOK)
	doJSON(t, aliceHTTP, http.MethodDelete, srv.addr, mine, aliceToken, nil, http.StatusNoContent)

	// Dave has every item of the first video, at its current revision,
	// and drops before the erasure: the erasure's push never reaches him.
	_, daveToken := register(t, srv, "dave")
	dave := dialPhx(t, srv.addr, daveToken, topics[0])
	dave.join(t, map[string]any{})
	waitFor(t, 10*time.Second, "dave to catch up", func() bool {
		_, _, caught := dave.lastSeen()
		return caught && len(dave.textsNow()) == 5
	})
	daveID, daveRev, _ := dave.lastSeen()
	dave.close()

	if code := eraseMe(t, srv.addr, aliceToken, "wrong-password"); code != http.StatusUnauthorized {
		t.Fatalf("erasing with a wrong password: %d", code)
	}
	if code := eraseMe(t, srv.addr, aliceToken, "password-123"); code != http.StatusNoContent {
		t.Fatalf("DELETE /api/users/me: %d", code)
	}

	waitFor(t, 10*time.Second, "bob's client to show alice's annotations erased", func() bool {
		erased := 0
		for _, text := range bob.textsNow() {
			if strings.Contains(text, secret) || strings.Contains(text, name) {
				return false
			}
			if strings.HasSuffix(text, ": [erased]") && strings.HasPrefix(text, "erased user #") {
				erased++
			}
		}
		return erased == 4 // three annotations and a reply
	})
	// Dave rejoins with exactly what he had: he is sent the erased items.
	rejoin := func(what string) {
		t.Helper()
		c := dialPhx(t, srv.addr, daveToken, topics[0])
		c.join(t, map[string]any{"last_seen_id": daveID, "last_seen_rev": daveRev})
		waitFor(t, 10*time.Second, what, func() bool {
			erased := 0
			for _, text := range c.textsNow() {
				if strings.Contains(text, secret) || strings.Contains(text, name) {
					return false
				}
				if text == "erased user #1: [erased]" {
					erased++
				}
			}
			return erased == 4
		})
		if seen, _, _ := c.state(); len(seen) != 0 {
			t.Errorf("%s: annotations sent again as new: %v", what, seen)
		}
		c.close()
	}
	rejoin("a rejoin at the revision of the erasure to send the erased texts")

	if _, code := httpJSONStatus(t, srv.addr, "/api/sign-ins", "", map[string]string{"username": name, "password": "password-123"}); code != http.StatusUnauthorized {
		t.Errorf("the erased user signs in: %d", code)
	}
	out, err := exec.Command(bin, "users", "list", "--data", data).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte(name)) || !bytes.Contains(out, []byte("erased user #1")) {
		t.Errorf("users list beside the server: %v\n%s", err, out)
	}

	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-srv.exited
	for _, needle := range []string{name, secret, aliceAddr} {
		_ = filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(needle)) {
				t.Errorf("%s holds %q after the erasure", p, needle)
			}
			return nil
		})
	}
	if out, err := exec.Command(bin, "audit", "verify", "--data", data).CombinedOutput(); err != nil {
		t.Errorf("audit verify after the erasure: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "audit", "trail", "--data", data).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("[erased]")) || !bytes.Contains(out, []byte("bob stays")) || bytes.Contains(out, []byte(secret)) || bytes.Contains(out, []byte(name)) {
		t.Errorf("audit trail after the erasure: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "audit", "log", "--data", data).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("sealed1:")) || !bytes.Contains(out, []byte("user_erased.v1")) || bytes.Contains(out, []byte(secret)) {
		t.Errorf("audit log after the erasure: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "projections", "rebuild", "--data", data).CombinedOutput(); err != nil {
		t.Errorf("projections rebuild after the erasure: %v\n%s", err, out)
	}

	// A backup taken after the erasure and restored holds nothing of the
	// user either; the restore re-applies the log's erasure to the keys.
	backupDir := filepath.Join(t.TempDir(), "backup")
	if out, err := exec.Command(bin, "backup", "--data", data, "--to", backupDir).CombinedOutput(); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	out, err = exec.Command(bin, "restore", "--from", backupDir, "--data", restored).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("erasures re-applied to the key store: 1")) {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	for _, dir := range []string{data, restored} {
		for _, needle := range []string{name, secret, aliceAddr} {
			_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return nil
				}
				if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(needle)) {
					t.Errorf("%s holds %q after a rebuild, a backup and a restore", p, needle)
				}
				return nil
			})
		}
	}

	srv = startServe(t, bin, "erase-again", []string{"--data", restored})
	// A hub that folds the video after the erasure sends the erased
	// items to a client that had them from before.
	_, daveToken = register(t, srv, "erin")
	rejoin("a rejoin after a restart to send the erased texts")
	_, bobToken = register(t, srv, "carol")
	again := dialPhx(t, srv.addr, bobToken, topics[0])
	again.join(t, map[string]any{})
	waitSeen(t, again, 4, "the history after a restart")
	for id, text := range again.textsNow() {
		if strings.Contains(text, secret) || strings.Contains(text, name) {
			t.Errorf("after a restart annotation %d reads %q", id, text)
		}
	}
}

// eraseMe sends DELETE /api/users/me with password, signed in with
// token, to the server at addr, and returns the status.
func eraseMe(t *testing.T, addr, token, password string) int {
	t.Helper()
	return apiStatus(t, http.MethodDelete, addr, "/api/users/me", token, map[string]string{"password": password})
}
