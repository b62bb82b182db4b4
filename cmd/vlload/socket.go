package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// viewer is one socket joined to the video. Its reader records the
// annotations it receives, in order, with their latency.
//
// Posters speak through gorilla/websocket (ws) and read in a goroutine of
// their own (read). Viewers speak through our minimal client (conn, see
// wsclient.go) and are read by one epoll loop for all of them (receive),
// so that following 2,000 sockets costs the tool little of its core.
type viewer struct {
	ws    *websocket.Conn // posters
	conn  net.Conn        // viewers
	topic string

	// Viewers: bytes read and not yet parsed, an incomplete frame at most
	// once the receiver runs. Owned by connect, then by the receiver.
	pending []byte
	fd      int // the socket's descriptor, for the receiver

	wmu sync.Mutex // writers: posters and the heartbeat

	// Written by the reader only; read once it has ended or under mu.
	mu      sync.Mutex
	ids     []int64
	lat     []int64 // nanoseconds from post to arrival (see receipt)
	readLat []int64 // nanoseconds from post to being read by this tool
	lastAt  int64   // unix nanoseconds of the last receipt read
	replies map[string]int64
	sentAt  map[string]int64 // unix nanoseconds each post was sent, by ref
	ackLat  []int64          // nanoseconds from post to its reply
	replyC  chan struct{}    // poked on each reply to a post
	readErr error
	// Reactions (reactions.go): pushes received; reacts sent and answered.
	reactFrames, reactSent, reactOK, reactErr int

	presence presenceCount
	deflate  bool // permessage-deflate negotiated: the server may compress (inflate.go)
}

var dialer = &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024}

// deflateDialer offers permessage-deflate, as browsers and vlload's own
// viewers do: a socket that joins a crowded video receives its presence
// compressed (a presence_state of 6,000 viewers is about 600 KB of JSON).
var deflateDialer = &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024, EnableCompression: true}

// socketURL is the server's socket endpoint for token.
func socketURL(base, token string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	u.Scheme = map[string]string{"https": "wss"}[u.Scheme]
	if u.Scheme == "" {
		u.Scheme = "ws"
	}
	u.Path = "/socket/websocket"
	u.RawQuery = url.Values{"vsn": {"2.0.0"}, "token": {token}}.Encode()
	return u, nil
}

// joinFrame is the phx_join of topic.
func joinFrame(topic string) string {
	return `["1","1",` + strconv.Quote(topic) + `,"phx_join",{"reactions_window":true}]`
}

// isJoinReply tells whether msg is the reply to joinFrame.
func isJoinReply(msg []byte) bool {
	return bytes.HasPrefix(msg, []byte(`["1","1",`)) && bytes.Contains(msg, []byte(`"phx_reply"`))
}

// connect dials a poster's socket (gorilla/websocket) and joins topic; it
// returns once the join reply arrived.
func connect(ctx context.Context, base, token, topic string) (*viewer, error) {
	u, err := socketURL(base, token)
	if err != nil {
		return nil, err
	}
	ws, _, err := dialer.DialContext(ctx, u.String(), nil)
	if err != nil {
		return nil, err
	}
	v := &viewer{ws: ws, topic: topic, replies: map[string]int64{}, sentAt: map[string]int64{}, replyC: make(chan struct{}, 1)}
	if err := v.write(joinFrame(topic)); err != nil {
		ws.Close()
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	head := make([]byte, 128)
	for {
		// Read only the head of each frame: the presence_state of a
		// crowded video is large, and only the join reply matters here.
		_, r, err := ws.NextReader()
		if err == nil {
			var n int
			n, err = io.ReadFull(r, head)
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				err = nil
			}
			msg := head[:n]
			if err == nil {
				_, err = io.Copy(io.Discard, r)
			}
			if err == nil && isJoinReply(msg) {
				if !bytes.Contains(msg, []byte(`"status":"ok"`)) {
					ws.Close()
					return nil, fmt.Errorf("join refused: %s", msg)
				}
				_ = ws.SetReadDeadline(time.Time{})
				return v, nil
			}
		}
		if err != nil {
			ws.Close()
			return nil, fmt.Errorf("join: %w", err)
		}
	}
}

func (v *viewer) write(msg string) error {
	if v.conn != nil {
		return v.writeFrame(opText, []byte(msg))
	}
	v.wmu.Lock()
	defer v.wmu.Unlock()
	_ = v.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return v.ws.WriteMessage(websocket.TextMessage, []byte(msg))
}

// close closes the socket.
func (v *viewer) close() {
	if v.conn != nil {
		v.conn.Close()
		return
	}
	v.ws.Close()
}

// frameHead bounds the searches in a frame: [join_ref, ref, topic, event,
// and the payload's first keys ({"id":…,"body":"t=…") lie within it.
const frameHead = 160

var (
	newAnnotation = []byte(`"new_annotation",{`)
	idKey         = []byte(`"id":`)
	bodyKey       = []byte(`"body":"t=`)
)

// expect makes room for n receipts before reading starts, so that
// recording one never copies the others.
func (v *viewer) expect(n int) {
	v.ids = make([]int64, 0, n)
	v.lat = make([]int64, 0, n)
	v.readLat = make([]int64, 0, n)
}

// read records what arrives on a poster's socket until it closes.
func (v *viewer) read() {
	buf := make([]byte, 0, 1024)
	for {
		_, r, err := v.ws.NextReader()
		if err != nil {
			v.mu.Lock()
			v.readErr = err
			v.mu.Unlock()
			return
		}
		buf, err = readAll(r, buf[:0])
		if err != nil {
			continue
		}
		v.onMessage(buf, len(buf), readNow())
	}
}

// receipt is when bytes reached a viewer, in unix nanoseconds: arrived,
// when the kernel queued them on the viewer's socket, and read, when this
// tool read them. The two differ by the tool's own queueing: one core
// reading thousands of sockets, as thousands of clients on their own
// machines would not. Where the kernel's time is not asked for (the
// posters' sockets), arrived is read.
type receipt struct{ arrived, read int64 }

func readNow() receipt {
	now := time.Now().UnixNano()
	return receipt{arrived: now, read: now}
}

// onMessage records one message received at at, wire bytes as sent
// (compressed or not). It
// parses only what it needs, so that one core can follow hundreds of
// thousands of frames a second: the event name lies in a frame's first
// bytes, the id and the send time at the start of its payload.
func (v *viewer) onMessage(buf []byte, wire int, at receipt) {
	head := buf[:min(len(buf), frameHead)]
	if i := bytes.Index(head, newAnnotation); i >= 0 {
		rest := buf[i+len(newAnnotation)-1:]
		rest = rest[:min(len(rest), frameHead)]
		id, sent := field(rest, idKey), field(rest, bodyKey)
		v.mu.Lock()
		v.ids = append(v.ids, id)
		v.lat = append(v.lat, at.arrived-sent)
		v.readLat = append(v.readLat, at.read-sent)
		v.lastAt = at.read
		v.mu.Unlock()
		return
	}
	if v.onReactionsFrame(head, buf) {
		return
	}
	if bytes.Contains(head, []byte(`"phx_reply"`)) && bytes.Contains(head, []byte(`"p`)) {
		v.onReply(buf)
		return
	}
	if isPresence(head) {
		v.countPresence(wire)
	}
}

// onlyCounted tells whether onMessage only counts the frame whose first
// frameHead bytes are head, reading nothing past them: a presence frame,
// whatever else its head holds.
func onlyCounted(head []byte) bool {
	return isPresence(head) && !bytes.Contains(head, newAnnotation) && !bytes.Contains(head, []byte(`"phx_reply"`)) &&
		!bytes.Contains(head, reactionsPush) && !bytes.Contains(head, reactionsWindowPush)
}

// onReply records the id a post was given: ["1","p<n>",topic,"phx_reply",...].
func (v *viewer) onReply(buf []byte) {
	var f [5]json.RawMessage
	if json.Unmarshal(buf, &f) != nil {
		return
	}
	var ref string
	if json.Unmarshal(f[1], &ref) != nil || len(ref) == 0 || ref[0] != 'p' {
		return
	}
	var r struct {
		Status   string `json:"status"`
		Response struct {
			ID     int64  `json:"id"`
			Reason string `json:"reason"`
		} `json:"response"`
	}
	_ = json.Unmarshal(f[4], &r)
	id := r.Response.ID
	if r.Status != "ok" {
		id = -1
	}
	v.mu.Lock()
	v.replies[ref] = id
	if t, ok := v.sentAt[ref]; ok {
		v.ackLat = append(v.ackLat, time.Now().UnixNano()-t)
	}
	v.mu.Unlock()
	select {
	case v.replyC <- struct{}{}:
	default:
	}
}

func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// field reads the decimal integer after key in b, or 0.
func field(b, key []byte) int64 {
	i := bytes.Index(b, key)
	if i < 0 {
		return 0
	}
	var n int64
	for _, c := range b[i+len(key):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
