package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// phxClient is a Phoenix Channels v2 client on one video's topic, for
// tests against real server processes. Its reader goroutine folds what
// the server sends: the annotations pushed or given in join replies (and
// how often each came, to catch duplicates), the presence list
// (presence_state, then presence_diff), and the replies by ref.
type phxClient struct {
	ws    *websocket.Conn
	topic string
	done  chan struct{} // closed when the reader ends

	mu       sync.Mutex
	err      error                      // why the reader ended
	seen     map[int64]int              // annotation id -> times received
	texts    map[int64]string           // annotation id -> "username: body" as last received
	presence map[string]string          // phx_ref -> user id
	replies  map[string]json.RawMessage // ref -> phx_reply payload
	ref      int
	rev      int64 // the largest rev of a push or join reply applied: last_seen_rev
	caught   bool  // caught_up received
}

func dialPhx(t testing.TB, addr, token, topic string) *phxClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket/websocket?vsn=2.0.0&token="+token, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := &phxClient{ws: ws, topic: topic, done: make(chan struct{}),
		seen: map[int64]int{}, texts: map[int64]string{}, presence: map[string]string{}, replies: map[string]json.RawMessage{}}
	go c.read()
	t.Cleanup(c.close)
	return c
}

func (c *phxClient) close() {
	_ = c.ws.Close()
	<-c.done
}

func (c *phxClient) read() {
	defer close(c.done)
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var f [5]json.RawMessage
		if json.Unmarshal(msg, &f) != nil {
			continue
		}
		var ref, topic, event string
		_ = json.Unmarshal(f[1], &ref)
		_ = json.Unmarshal(f[2], &topic)
		_ = json.Unmarshal(f[3], &event)
		if topic != c.topic {
			continue
		}
		var rev struct {
			Rev     int64 `json:"rev"`
			LastRev int64 `json:"last_rev"`
		}
		_ = json.Unmarshal(f[4], &rev)
		c.mu.Lock()
		if event != "phx_reply" { // a join reply's rev is read by join
			c.rev = max(c.rev, rev.Rev, rev.LastRev)
		}
		switch event {
		case "caught_up":
			c.caught = true
		case "phx_reply":
			c.replies[ref] = f[4]
		case "new_annotation", "annotation_updated", "new_reply", "reply_updated":
			var a struct {
				ID   int64  `json:"id"`
				Body string `json:"body"`
				User struct {
					Username string `json:"username"`
				} `json:"user"`
			}
			_ = json.Unmarshal(f[4], &a)
			if event == "new_annotation" {
				c.seen[a.ID]++
			}
			c.texts[a.ID] = a.User.Username + ": " + a.Body
		case "presence_state":
			var s map[string]struct {
				Metas []struct {
					PhxRef string `json:"phx_ref"`
				} `json:"metas"`
			}
			_ = json.Unmarshal(f[4], &s)
			clear(c.presence)
			for user, l := range s {
				for _, m := range l.Metas {
					c.presence[m.PhxRef] = user
				}
			}
		case "presence_diff":
			var d struct {
				Joins, Leaves map[string]struct {
					Metas []struct {
						PhxRef string `json:"phx_ref"`
					} `json:"metas"`
				}
			}
			_ = json.Unmarshal(f[4], &d)
			for _, l := range d.Leaves {
				for _, m := range l.Metas {
					delete(c.presence, m.PhxRef)
				}
			}
			for user, l := range d.Joins {
				for _, m := range l.Metas {
					c.presence[m.PhxRef] = user
				}
			}
		}
		c.mu.Unlock()
	}
}

// push sends event with payload and waits for its reply's response,
// failing t on an error status.
func (c *phxClient) push(t testing.TB, joinRef, event string, payload any) json.RawMessage {
	t.Helper()
	resp, status := c.pushStatus(t, joinRef, event, payload)
	if status != "ok" {
		t.Fatalf("%s %s: %s %s", c.topic, event, status, resp)
	}
	return resp
}

func (c *phxClient) pushStatus(t testing.TB, joinRef, event string, payload any) (json.RawMessage, string) {
	t.Helper()
	c.mu.Lock()
	c.ref++
	ref := strconv.Itoa(c.ref)
	c.mu.Unlock()
	if joinRef == "" {
		joinRef = ref
	}
	p, _ := json.Marshal(payload)
	frame, _ := json.Marshal([]any{joinRef, ref, c.topic, event, json.RawMessage(p)})
	if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		t.Fatalf("%s %s: %v", c.topic, event, err)
	}
	var reply json.RawMessage
	waitFor(t, 10*time.Second, fmt.Sprintf("reply to %s %s", c.topic, event), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		reply = c.replies[ref]
		return reply != nil || c.err != nil
	})
	var r struct {
		Status   string          `json:"status"`
		Response json.RawMessage `json:"response"`
	}
	if reply == nil || json.Unmarshal(reply, &r) != nil {
		t.Fatalf("%s %s: no reply (%v)", c.topic, event, c.err)
	}
	return r.Response, r.Status
}

// join joins the topic, retrying while the node has not yet caught up
// with the video (it was created on another node), and counts the
// annotations of the reply as received. It returns the join ref.
func (c *phxClient) join(t testing.TB, params map[string]any) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		joinRef := strconv.Itoa(c.ref + 1)
		c.mu.Unlock()
		resp, status := c.pushStatus(t, "", "phx_join", params)
		if status == "ok" {
			type item struct {
				ID   int64  `json:"id"`
				Body string `json:"body"`
				User struct {
					Username string `json:"username"`
				} `json:"user"`
			}
			var r struct {
				Annotations    []item `json:"annotations"`
				Replies        []item `json:"replies"`
				Updated        []item `json:"updated"`
				RepliesUpdated []item `json:"replies_updated"`
				Rev            int64  `json:"rev"`
			}
			_ = json.Unmarshal(resp, &r)
			c.mu.Lock()
			for _, a := range r.Annotations {
				c.seen[a.ID]++
			}
			for _, l := range [][]item{r.Annotations, r.Replies, r.Updated, r.RepliesUpdated} {
				for _, a := range l {
					c.texts[a.ID] = a.User.Username + ": " + a.Body
				}
			}
			c.rev = max(c.rev, r.Rev)
			c.mu.Unlock()
			return joinRef
		}
		if time.Now().After(deadline) {
			t.Fatalf("join %s: %s %s", c.topic, status, resp)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// textsNow returns a copy of the annotations' last received texts.
func (c *phxClient) textsNow() map[int64]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[int64]string, len(c.texts))
	for k, v := range c.texts {
		out[k] = v
	}
	return out
}

// lastSeen returns what a rejoin claims: the largest annotation or reply
// id received, the largest rev applied, and whether caught_up came.
func (c *phxClient) lastSeen() (id, rev int64, caught bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.texts {
		id = max(id, k)
	}
	return id, c.rev, c.caught
}

// state returns copies of what the client has received.
func (c *phxClient) state() (seen map[int64]int, presence map[string]string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen, presence = map[int64]int{}, map[string]string{}
	for k, v := range c.seen {
		seen[k] = v
	}
	for k, v := range c.presence {
		presence[k] = v
	}
	return seen, presence, c.err
}

// waitFor polls cond until it holds, failing t after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
