package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// api is the server's JSON API.
type api struct {
	base string
	http *http.Client
}

func (a *api) call(ctx context.Context, path, token string, in, out any) error {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(raw))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	return nil
}

// signIn registers a user and signs in; it returns a socket token.
func (a *api) signIn(ctx context.Context, username string) (string, error) {
	creds := map[string]string{"username": username, "password": "vlload-password-1"}
	var user struct{}
	for try := 0; ; try++ { // registrations race for the users stream
		err := a.call(ctx, "/api/users", "", creds, &user)
		if err == nil {
			break
		}
		if try == 20 || !strings.Contains(err.Error(), "409") {
			return "", err
		}
		time.Sleep(time.Duration(try+1) * time.Millisecond)
	}
	var s struct {
		Token string `json:"token"`
	}
	if err := a.call(ctx, "/api/sign-ins", "", creds, &s); err != nil {
		return "", err
	}
	return s.Token, nil
}

func (a *api) addVideo(ctx context.Context, token string) (int64, error) {
	var v struct {
		ID int64 `json:"id"`
	}
	err := a.call(ctx, "/api/videos", token, map[string]string{"title": "vlload", "url": "https://example.com/load.mp4"}, &v)
	return v.ID, err
}

// rssKiB reads a process's resident set size from /proc.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// cpuTime is a process's user+system CPU time, from /proc/<pid>/stat
// (clock ticks of 10 ms).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}
