package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeServer plays the Phoenix side for one viewer: it accepts the join,
// replies, sends presence noise and then n new_annotation pushes, ids 1..n,
// in every shape: one frame per write, several frames per write, 16-bit
// lengths, a frame cut across two writes. Then, for the token "eof", it
// drops the connection; for "close", it sends a close frame and waits for
// the answer; for "hold", it waits for the client to close. What it saw of the client goes to seen, one line per fact.
// handlers counts the handlers running (httptest.Server.Close does not
// wait for hijacked connections).
func fakeServer(t *testing.T, n int, seen chan<- string, handlers *sync.WaitGroup) *httptest.Server {
	up := websocket.Upgrader{}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		q := r.URL.Query()
		if r.URL.Path != "/socket/websocket" || q.Get("vsn") != "2.0.0" {
			http.NotFound(w, r)
			return
		}
		token := q.Get("token")
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			seen <- token + ": upgrade: " + err.Error()
			return
		}
		defer ws.Close()
		say := func(format string, a ...any) { seen <- token + ": " + fmt.Sprintf(format, a...) }
		_, msg, err := ws.ReadMessage()
		if err != nil || string(msg) != `["1","1","videos:1","phx_join",{"reactions_window":true}]` {
			say("join %q %v", msg, err)
			return
		}
		now := func() int64 { return time.Now().UnixNano() }
		nc := ws.NetConn()
		// The reply, the presence_state (16-bit length) and the first
		// annotation in one write: the connect reads all of it.
		var b []byte
		b = append(b, serverFrame(opText, []byte(`["1","1","videos:1","phx_reply",{"status":"ok","response":{}}]`))...)
		b = append(b, serverFrame(opText, []byte(`[null,null,"videos:1","presence_state",{"u1":{"metas":[{"phx_ref":"`+strings.Repeat("r", 3000)+`"}]}}]`))...)
		b = append(b, serverFrame(opText, annotation(1, now(), 0))...)
		if _, err := nc.Write(b); err != nil {
			say("write: %v", err)
			return
		}
		// The client's heartbeat, sent once its receiver runs.
		_, msg, err = ws.ReadMessage()
		say("got %s %v", msg, err)
		closed := make(chan struct{})
		ws.SetPongHandler(func(data string) error { say("pong %s", data); return nil })
		go func() { // reads pongs and, at the end, the close answer
			defer close(closed)
			for {
				if _, msg, err := ws.ReadMessage(); err != nil {
					var ce *websocket.CloseError
					if errors.As(err, &ce) {
						say("close answer %d", ce.Code)
					}
					return
				} else {
					say("unexpected %s", msg)
				}
			}
		}()
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`[null,null,"videos:1","presence_diff",{"joins":{},"leaves":{}}]`))
		_ = ws.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second))
		for id := int64(2); id <= int64(n); {
			switch id % 4 {
			case 0: // one frame per write
				_ = ws.WriteMessage(websocket.TextMessage, annotation(id, now(), 0))
				id++
			case 1: // five frames in one write, large and small, with noise
				b = b[:0]
				for k := 0; k < 5 && id <= int64(n); k++ {
					b = append(b, serverFrame(opText, annotation(id, now(), 60*k*k))...)
					b = append(b, serverFrame(opText, presenceNoise(40*k))...)
					id++
				}
				_, _ = nc.Write(b)
			case 2: // a 16-bit frame cut in two writes
				f := serverFrame(opText, annotation(id, now(), 2000))
				_, _ = nc.Write(f[:len(f)/2])
				time.Sleep(5 * time.Millisecond)
				_, _ = nc.Write(f[len(f)/2:])
				id++
			case 3: // a header cut after its first byte
				f := serverFrame(opText, annotation(id, now(), 500))
				_, _ = nc.Write(f[:1])
				time.Sleep(5 * time.Millisecond)
				_, _ = nc.Write(f[1:])
				id++
			}
		}
		switch token {
		case "hold": // until the client closes
			<-closed
		case "close":
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))
			select {
			case <-closed:
			case <-time.After(5 * time.Second):
				say("no close answer")
			}
		default:
			_ = nc.Close()
			<-closed
		}
	}))
}

func TestReceiveEpoll(t *testing.T) {
	const n = 200
	seen := make(chan string, 100)
	var handlers sync.WaitGroup
	srv := fakeServer(t, n, seen, &handlers)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var viewers []*viewer
	for _, token := range []string{"eof", "close", "hold"} {
		v, err := dialViewer(ctx, srv.URL, token, "videos:1")
		if err != nil {
			t.Fatal(err)
		}
		defer v.close()
		v.expect(n)
		viewers = append(viewers, v)
	}
	firstPost := time.Now()
	stop, err := receive(viewers, 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	for _, v := range viewers {
		if err := v.write(`[null,"h0","phoenix","heartbeat",{}]`); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range viewers {
		for {
			v.mu.Lock()
			done := v.readErr != nil || i == 2 && len(v.ids) == n
			v.mu.Unlock()
			if done {
				break
			}
			if ctx.Err() != nil {
				t.Fatal("the sockets were not seen closed")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	stop()
	stopped = true
	if err := viewers[2].readErr; err != nil { // stopping is no error of the sockets
		t.Errorf("held viewer: readErr %v", err)
	}
	viewers[2].close()

	want := make([]int64, n)
	for i := range want {
		want[i] = int64(i + 1)
	}
	for i, v := range viewers {
		if !slices.Equal(v.ids, want) {
			t.Errorf("viewer %d: ids %v", i, v.ids)
		}
		if len(v.lat) != len(v.readLat) {
			t.Errorf("viewer %d: %d arrival and %d read latencies", i, len(v.lat), len(v.readLat))
		}
		for j, l := range v.lat {
			if l < 0 || l > int64(10*time.Second) || l > v.readLat[j] {
				t.Errorf("viewer %d: latency to arrival %v, to read %v", i, time.Duration(l), time.Duration(v.readLat[j]))
			}
		}
		if v.lastAt < firstPost.UnixNano() {
			t.Errorf("viewer %d: lastAt %d", i, v.lastAt)
		}
	}
	if !errors.Is(viewers[0].readErr, io.EOF) {
		t.Errorf("eof viewer: readErr %v", viewers[0].readErr)
	}
	var ce *closeError
	if !errors.As(viewers[1].readErr, &ce) || ce.code != 1000 {
		t.Errorf("close viewer: readErr %v", viewers[1].readErr)
	}

	srv.Close()
	handlers.Wait() // the held socket's handler ends once the client closed it
	close(seen)
	var facts []string
	for s := range seen {
		facts = append(facts, s)
	}
	slices.Sort(facts)
	wantFacts := []string{
		"close: close answer 1000",
		`close: got [null,"h0","phoenix","heartbeat",{}] <nil>`,
		"close: pong hi",
		`eof: got [null,"h0","phoenix","heartbeat",{}] <nil>`,
		"eof: pong hi",
		"hold: close answer 1006", // gorilla's "abnormal closure": vlload closes without a close frame
		`hold: got [null,"h0","phoenix","heartbeat",{}] <nil>`,
		"hold: pong hi",
	}
	if !slices.Equal(facts, wantFacts) {
		t.Errorf("server saw:\n%s\nwant:\n%s", strings.Join(facts, "\n"), strings.Join(wantFacts, "\n"))
	}

	var out bytes.Buffer
	report(&out, config{}, viewers, want, firstPost)
	if line := "viewers exact: 3 of 3; missing 0, duplicated 0, out of order 0, sockets closed 2"; !strings.Contains(out.String(), line) {
		t.Errorf("report:\n%s\nwant the line %q", &out, line)
	}
}

// TestDialViewerRefused: a refused join is an error of the connect.
func TestDialViewerRefused(t *testing.T) {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		_, _, _ = ws.ReadMessage()
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`["1","1","videos:1","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]`))
		_, _, _ = ws.ReadMessage()
	}))
	defer srv.Close()
	_, err := dialViewer(context.Background(), srv.URL, "x", "videos:1")
	if err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("err %v", err)
	}
	// Not a websocket endpoint: the upgrade fails.
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	if _, err := dialViewer(context.Background(), plain.URL, "x", "videos:1"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err %v", err)
	}
}
