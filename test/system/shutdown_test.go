package system

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// SIGTERM while clients post (issue 7): the server tells every socket to
// go away (1001), exits cleanly, and every post acknowledged before it
// went is in the log after a restart, where the clients catch up.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("graceful shutdown test: not in -short mode")
	}
	srv := startServer(t)
	owner := srv.signUp(t, "owner", "127.0.0.2")
	video := srv.addVideo(t, owner, "shutdown")
	topic := "videos:" + strconv.FormatInt(video, 10)
	posters := srv.signUpMany(t, "poster", 3, 5)

	// Operations endpoints while serving.
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		resp, err := http.Get(srv.url(path))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, b)
		}
	}

	var (
		mu         sync.Mutex
		acked      = map[int64]string{}
		goingAway  atomic.Int64
		otherClose []string
		posted     atomic.Int64
		wg         sync.WaitGroup
	)
	const viewers = 20
	ready := make(chan struct{}, viewers+len(posters))
	client := func(u user, post bool, name string) {
		ws, err := dial(srv, u.Token)
		if err != nil {
			t.Errorf("%s: dial: %v", name, err)
			ready <- struct{}{}
			return
		}
		defer ws.Close()
		_ = send(ws, "j", "j", topic, "phx_join", map[string]any{})
		pending := map[string]string{}
		stop := make(chan struct{})
		var writer sync.WaitGroup
		var wmu sync.Mutex
		if post {
			writer.Go(func() {
				for n := 1; ; n++ {
					select {
					case <-stop:
						return
					case <-time.After(125 * time.Millisecond):
					}
					ref, body := strconv.Itoa(n), name+"-"+strconv.Itoa(n)
					wmu.Lock()
					pending[ref] = body
					wmu.Unlock()
					if send(ws, "j", ref, topic, "new_annotation", map[string]any{"body": body, "at": n}) != nil {
						return
					}
				}
			})
		}
		signalled := false
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				close(stop)
				writer.Wait()
				if websocket.IsCloseError(err, websocket.CloseGoingAway) {
					goingAway.Add(1)
				} else {
					mu.Lock()
					otherClose = append(otherClose, name+": "+err.Error())
					mu.Unlock()
				}
				return
			}
			var f frame
			if json.Unmarshal(data, &f) != nil || f.Event != "phx_reply" {
				continue
			}
			if f.ref() == "j" {
				if !signalled {
					signalled = true
					ready <- struct{}{}
				}
				continue
			}
			status, resp, _ := f.reply()
			wmu.Lock()
			body, ok := pending[f.ref()]
			delete(pending, f.ref())
			wmu.Unlock()
			if ok && status == "ok" {
				var out struct {
					ID int64 `json:"id"`
				}
				_ = json.Unmarshal(resp, &out)
				mu.Lock()
				acked[out.ID] = body
				mu.Unlock()
				posted.Add(1)
			}
		}
	}
	for i := range viewers {
		wg.Go(func() { client(owner, false, "viewer"+strconv.Itoa(i)) })
	}
	for i, p := range posters {
		wg.Go(func() { client(p, true, "poster"+strconv.Itoa(i)) })
	}
	for range viewers + len(posters) {
		<-ready
	}
	for posted.Load() < 200 {
		time.Sleep(10 * time.Millisecond)
	}
	mresp, err := http.Get(srv.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{`videologue_events_appended_total{type="annotation_posted.v1"}`, `videologue_events_appended_total{type="viewer_joined.v1"}`,
		"videologue_connections 25", "videologue_append_duration_seconds_bucket", "videologue_broadcast_deliveries_total", "videologue_slow_client_disconnects_total"} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	start := time.Now()
	if err := srv.stop(); err != nil {
		var ee interface{ ExitCode() int }
		if errors.As(err, &ee) {
			t.Fatalf("server exited with %d after SIGTERM, want 0", ee.ExitCode())
		}
		t.Fatal(err)
	}
	took := time.Since(start)
	wg.Wait()
	if n := goingAway.Load(); n != viewers+int64(len(posters)) {
		t.Errorf("%d of %d clients were told 1001 going away; others: %v", n, viewers+len(posters), otherClose)
	}
	logs := srv.readLog(t, []int64{video})
	inLog := map[int64]string{}
	for _, a := range logs[video] {
		inLog[a.ID] = a.Body
	}
	for id, body := range acked {
		if inLog[id] != body {
			t.Errorf("acknowledged post %d %q lost (log has %q)", id, body, inLog[id])
		}
	}
	// After a restart a client catches up with exactly the log.
	srv.start()
	ws, err := dial(srv, owner.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = send(ws, "j", "j", topic, "phx_join", map[string]any{"last_seen_id": 0})
	f := readUntil(t, ws, func(f *frame) bool { return f.Event == "phx_reply" && f.ref() == "j" })
	if f == nil {
		t.Fatal("no join reply after restart")
	}
	_, resp, _ := f.reply()
	var out struct {
		Annotations []wireAnnotation `json:"annotations"`
	}
	_ = json.Unmarshal(resp, &out)
	if len(out.Annotations) != len(logs[video]) {
		t.Errorf("after restart the join gives %d annotations, the log has %d", len(out.Annotations), len(logs[video]))
	}
	t.Logf("graceful shutdown: %d clients, %d posts acknowledged, %d in the log, %d told 1001, SIGTERM to exit %s",
		viewers+len(posters), len(acked), len(logs[video]), goingAway.Load(), took.Round(time.Millisecond))
}
