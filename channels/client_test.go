package channels_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// frame is a frame the test client received, or (local) a join it sent.
type frame struct {
	JoinRef  *string
	Ref      *string
	Topic    string
	Event    string
	Payload  json.RawMessage
	local    bool
	localRef string
}

func (f frame) joinRef() string {
	if f.JoinRef == nil {
		return ""
	}
	return *f.JoinRef
}

func (f frame) ref() string {
	if f.Ref == nil {
		return ""
	}
	return *f.Ref
}

// status and response of a phx_reply.
func (f frame) reply() (string, json.RawMessage) {
	var r struct {
		Status   string          `json:"status"`
		Response json.RawMessage `json:"response"`
	}
	_ = json.Unmarshal(f.Payload, &r)
	return r.Status, r.Response
}

func (f frame) reason() string {
	_, resp := f.reply()
	var r struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(resp, &r)
	if r.Reason == "" {
		_ = json.Unmarshal(f.Payload, &r)
	}
	return r.Reason
}

// client is a protocol client that records everything it receives.
type client struct {
	t      testing.TB
	ws     *websocket.Conn
	mu     sync.Mutex
	frames []frame
	wake   chan struct{}
	closed error // why reading stopped
	ref    int
	gate   chan struct{} // while non-nil, the reader waits for it to close
	done   chan struct{}
}

func (e *env) dial(token string) *client {
	e.t.Helper()
	c, resp, err := e.tryDial(token, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		e.t.Fatalf("dial: %v (status %d)", err, status)
	}
	return c
}

func (e *env) tryDial(token string, header http.Header) (*client, *http.Response, error) {
	return e.tryDialFrom("", token, header)
}

// tryDialFrom is tryDial from the local address ip ("": any).
func (e *env) tryDialFrom(ip, token string, header http.Header) (*client, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if ip != "" {
		d.NetDialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext
	}
	if e.tinyTCP {
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(e.bufSize())
			}
			return c, err
		}
		d.ReadBufferSize = 1024
	}
	q := "vsn=2.0.0"
	if token != "" {
		q = "token=" + token + "&" + q
	}
	ws, resp, err := d.Dial(e.url(q), header)
	if err != nil {
		return nil, resp, err
	}
	c := &client{t: e.t, ws: ws, wake: make(chan struct{}), done: make(chan struct{})}
	go c.read()
	e.t.Cleanup(c.close)
	return c, resp, nil
}

func (c *client) read() {
	defer close(c.done)
	for {
		c.mu.Lock()
		gate := c.gate
		c.mu.Unlock()
		if gate != nil {
			<-gate
		}
		_, data, err := c.ws.ReadMessage()
		c.mu.Lock()
		if err != nil {
			c.closed = err
			close(c.wake)
			c.mu.Unlock()
			return
		}
		var parts []json.RawMessage
		var f frame
		if json.Unmarshal(data, &parts) != nil || len(parts) != 5 ||
			json.Unmarshal(parts[0], &f.JoinRef) != nil || json.Unmarshal(parts[1], &f.Ref) != nil ||
			json.Unmarshal(parts[2], &f.Topic) != nil || json.Unmarshal(parts[3], &f.Event) != nil {
			c.t.Errorf("server sent a malformed frame: %s", data)
		}
		f.Payload = parts[4]
		c.frames = append(c.frames, f)
		close(c.wake)
		c.wake = make(chan struct{})
		c.mu.Unlock()
	}
}

// pause stops reading from the socket until resume.
func (c *client) pause() {
	c.mu.Lock()
	c.gate = make(chan struct{})
	c.mu.Unlock()
}

func (c *client) resume() {
	c.mu.Lock()
	if c.gate != nil {
		close(c.gate)
		c.gate = nil
	}
	c.mu.Unlock()
}

func (c *client) close() {
	c.resume()
	_ = c.ws.Close()
	<-c.done
}

func (c *client) nextRef() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ref++
	return strconv.Itoa(c.ref)
}

func (c *client) sendRaw(mt int, data []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(mt, data); err != nil {
		c.t.Errorf("send: %v", err)
	}
}

func jsonRef(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// send writes a frame and returns how many frames had arrived before it.
func (c *client) send(joinRef, ref, topic, event string, payload any) int {
	c.t.Helper()
	return c.sendFn(joinRef, ref, topic, event, func([]frame) any { return payload })
}

// sendFn is send with a payload computed from the frames received so far,
// atomically with marking a join or leave: like the JS client's params
// function, it sees exactly what was shown before the join.
func (c *client) sendFn(joinRef, ref, topic, event string, payload func([]frame) any) int {
	c.t.Helper()
	n, err := c.trySendFn(joinRef, ref, topic, event, payload)
	if err != nil {
		c.t.Errorf("send: %v", err)
	}
	return n
}

// trySend is send for a client the server may have disconnected: a write
// that fails is returned, not a test failure.
func (c *client) trySend(joinRef, ref, topic, event string, payload any) error {
	_, err := c.trySendFn(joinRef, ref, topic, event, func([]frame) any { return payload })
	return err
}

func (c *client) trySendFn(joinRef, ref, topic, event string, payload func([]frame) any) (int, error) {
	c.t.Helper()
	c.mu.Lock()
	b, err := json.Marshal([]any{jsonRef(joinRef), jsonRef(ref), topic, event, payload(c.frames)})
	if err != nil {
		c.mu.Unlock()
		c.t.Fatal(err)
	}
	n := len(c.frames)
	if event == "phx_join" || event == "phx_leave" { // remember which join is current, as the JS client does
		c.frames = append(c.frames, frame{local: true, Topic: topic, Event: event, localRef: joinRef})
		n++
	}
	// Written under the lock, so that no frame is read between the
	// payload and the marker.
	err = c.ws.WriteMessage(websocket.TextMessage, b)
	c.mu.Unlock()
	return n, err
}

// await returns the first frame from index from on that matches.
func (c *client) await(from int, timeout time.Duration, what string, match func(frame) bool) frame {
	c.t.Helper()
	f, ok := c.tryAwait(from, timeout, match)
	if !ok {
		c.t.Fatalf("timed out waiting for %s; got %s", what, c.dump(from))
	}
	return f
}

func (c *client) tryAwait(from int, timeout time.Duration, match func(frame) bool) (frame, bool) {
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		pending := c.frames[min(from, len(c.frames)):] // frames are never modified once appended
		from = len(c.frames)
		wake, closed := c.wake, c.closed
		c.mu.Unlock()
		for _, f := range pending {
			if !f.local && match(f) {
				return f, true
			}
		}
		if closed != nil {
			return frame{}, false
		}
		select {
		case <-wake:
		case <-deadline:
			return frame{}, false
		}
	}
}

func (c *client) dump(from int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := ""
	for _, f := range c.frames[min(from, len(c.frames)):] {
		if len(s) > 2000 {
			return s + " …"
		}
		s += fmt.Sprintf("\n  [%s,%s,%s,%s,%s]", f.joinRef(), f.ref(), f.Topic, f.Event, f.Payload)
	}
	if c.closed != nil {
		s += fmt.Sprintf("\n  (closed: %v)", c.closed)
	}
	return s
}

// request sends a frame and waits for its phx_reply.
func (c *client) request(joinRef, topic, event string, payload any) frame {
	c.t.Helper()
	ref := c.nextRef()
	n := c.send(joinRef, ref, topic, event, payload)
	return c.await(n, 10*time.Second, event+" reply", func(f frame) bool {
		return f.Event == "phx_reply" && f.ref() == ref && f.Topic == topic
	})
}

// join joins topic and returns the join ref and the reply.
func (c *client) join(topic string, params any) (string, frame) {
	c.t.Helper()
	return c.joinFn(topic, func([]frame) any { return params })
}

func (c *client) joinFn(topic string, params func([]frame) any) (string, frame) {
	c.t.Helper()
	ref := c.nextRef()
	n := c.sendFn(ref, ref, topic, "phx_join", params)
	f := c.await(n, 15*time.Second, "join reply for "+topic, func(f frame) bool {
		return f.Event == "phx_reply" && f.ref() == ref && f.Topic == topic
	})
	return ref, f
}

func (c *client) mustJoin(topic string, params any) string {
	c.t.Helper()
	ref, f := c.join(topic, params)
	if st, _ := f.reply(); st != "ok" {
		c.t.Fatalf("join %s: %s", topic, f.Payload)
	}
	return ref
}

// annotations returns what a Phoenix client would have shown for topic:
// join replies and pushes of the current join, in arrival order.
func (c *client) annotations(topic string) []annotation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return annotationsOf(c.frames, topic)
}

type annotation struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
	At   int64  `json:"at"`
	User struct {
		ID       int64  `json:"id"`
		Username string `json:"username"`
	} `json:"user"`
	InsertedAt string `json:"inserted_at"`
}

func annotationsOf(frames []frame, topic string) []annotation {
	var out []annotation
	cur := ""
	for _, f := range frames {
		if f.Topic != topic {
			continue
		}
		if f.local {
			cur = f.localRef
			if f.Event == "phx_leave" {
				cur = "" // the channel is gone: its messages are dropped
			}
			continue
		}
		if f.JoinRef != nil && (cur == "" || *f.JoinRef != cur) {
			continue // an earlier join's: the client drops it
		}
		switch {
		case f.Event == "phx_reply" && f.ref() == cur:
			st, resp := f.reply()
			var r struct {
				Annotations []annotation `json:"annotations"`
			}
			if st == "ok" && json.Unmarshal(resp, &r) == nil {
				out = append(out, r.Annotations...)
			}
		case f.Event == "new_annotation":
			var a annotation
			_ = json.Unmarshal(f.Payload, &a)
			out = append(out, a)
		}
	}
	return out
}

func ids(as []annotation) []int64 {
	out := make([]int64, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func (c *client) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.frames)
}

func (c *client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed != nil
}

// closeErr waits for the socket to end and returns why.
func (c *client) closeErr(timeout time.Duration) error {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.t.Fatalf("socket still open after %v", timeout)
	}
	return c.closed
}
