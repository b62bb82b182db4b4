package channels

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// The long-poll transport serves phoenix.js's LongPoll, which clients use
// where websockets are blocked (see Socket's longPollFallbackMs). A
// session is a conn like a websocket's, with the same handler,
// subscriptions, limits and queue; only the way frames travel differs:
//
//   - GET without a session token opens a session and answers
//     {"status":410,"token":T}. T goes back in the "token" query
//     parameter (phoenix.js appends it after the socket's params) or in
//     the X-Phoenix-Longpoll-Token header.
//   - GET with T takes the session's queue: {"status":200,"token":T,
//     "messages":[...]}, each message one serialized frame; or, after
//     PollTimeout with nothing queued, {"status":204,"token":T}.
//   - POST with T feeds frames to the handler, one per line of an
//     application/x-ndjson body (or one JSON frame as the whole body),
//     and answers {"status":200}.
//   - A request of a session closed because its sign-in ended, or whose
//     user token names an ended sign-in, gets {"status":403}: phoenix.js
//     then closes with 1008 "forbidden" and does not reconnect.
//   - A token naming no live session gets {"status":410}: the client
//     reconnects, rejoins, and catches up exactly from the log.
//
// As Phoenix does, these answers are HTTP 200 with the status in the
// body; refusals of the connect itself (limits, a bad user token) are
// the websocket upgrade's, in plain text.
//
// A session lives on the node that opened it, and ends when no request
// has touched it for twice PollTimeout, when the server shuts down, or
// as a websocket would be closed (flooding, a full queue, sign-out).

// pollTokenPrefix marks a session token among the "token" query
// parameters, where the user token of the socket's params comes first.
const pollTokenPrefix = "lp."

// maxPollBatch bounds the frames in one POST (phoenix.js sends at most
// 100).
const maxPollBatch = 128

// pollTokens finds a long-poll request's session token and user token.
// phoenix.js sends the socket's params (the user token) first and its
// session token last, both named "token"; with authToken, the user token
// comes in a header.
func pollTokens(r *http.Request) (session, user string) {
	session = r.Header.Get("X-Phoenix-Longpoll-Token")
	for _, t := range r.URL.Query()["token"] {
		if strings.HasPrefix(t, pollTokenPrefix) {
			if session == "" {
				session = t
			}
		} else if user == "" {
			user = t
		}
	}
	if user == "" {
		user = r.Header.Get("X-Phoenix-AuthToken")
	}
	return session, user
}

// serveLongPoll serves /socket/longpoll.
func (s *Server) serveLongPoll(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "long poll: GET or POST only", http.StatusMethodNotAllowed)
		return
	}
	if !s.originAllowed(r) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	session, user := pollTokens(r)
	if session == "" {
		if r.Method == http.MethodPost {
			writePollStatus(w, http.StatusGone, "")
			return
		}
		s.openPoll(w, r, user)
		return
	}
	c := s.resumePoll(session)
	if c == nil {
		writePollStatus(w, s.goneStatus(r, user), "")
		return
	}
	// A session token is the user's own: it comes with no user token (a
	// client authenticating by header posts without it), an expired one,
	// or one of the same user, never another's.
	if user != "" {
		if id, _, err := s.deps.Tokens.Verify(user); err == nil && id != c.user.id {
			http.Error(w, "session token of another user", http.StatusForbidden)
			return
		}
	}
	if r.Method == http.MethodGet {
		s.pollGet(w, r, c)
	} else {
		s.pollPost(w, r, c)
	}
}

// openPoll opens a session, admitted as a websocket upgrade is, and
// answers 410 with its token.
func (s *Server) openPoll(w http.ResponseWriter, r *http.Request, userToken string) {
	user, addrKey, ok := s.admitConnect(w, r, userToken)
	if !ok {
		return
	}
	c := newConn(s, nil, r, user, addrKey)
	var id [16]byte
	_, _ = rand.Read(id[:])
	p := &pollSession{
		id:      base64.RawURLEncoding.EncodeToString(id[:]),
		ctx:     context.WithoutCancel(r.Context()),
		timeout: s.cfg.PollTimeout,
		wake:    make(chan struct{}, 1),
		last:    time.Now(),
	}
	p.token = s.pollToken(p.id, user.id)
	c.poll = p
	s.mu.Lock()
	tracked := !s.closing
	if tracked {
		s.conns[c] = struct{}{}
		s.polls[p.id] = c
	}
	s.mu.Unlock()
	if !tracked {
		s.cfg.Observer.Connect(LongPoll, RefusedUnavailable)
		c.shut(websocket.CloseGoingAway, "server shutting down", false)
	} else {
		s.cfg.Observer.Connect(LongPoll, OK)
		s.recheckSignIn(r.Context(), c)
	}
	go func() {
		defer s.connsWG.Done()
		p.run(c)
		s.mu.Lock()
		delete(s.conns, c)
		delete(s.polls, p.id)
		s.mu.Unlock()
		if tracked {
			s.cfg.Observer.Disconnected(LongPoll)
		}
		s.limits.sockets.Release(addrKey)
	}()
	writePollStatus(w, http.StatusGone, p.token)
}

// pollGet answers with what c has queued, waiting up to PollTimeout for
// something to be.
func (s *Server) pollGet(w http.ResponseWriter, r *http.Request, c *conn) {
	p := c.poll
	if !p.begin(true) {
		tooMany(w, 0, "long poll: at most %d polls at once per session", maxPollGets)
		return
	}
	defer p.done(true)
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	for {
		if msgs := c.takeQueue(); len(msgs) > 0 {
			if err := writePollMessages(w, p.token, msgs); err != nil {
				// What was taken is lost to the client: end the session,
				// so that it rejoins and catches up exactly.
				c.log().Debug("long poll: write failed", "err", err)
				c.shut(websocket.CloseAbnormalClosure, "", false)
				return
			}
			c.qmu.Lock()
			c.written()
			c.qmu.Unlock()
			return
		}
		if c.ending() {
			writePollStatus(w, endedStatus(c), "")
			return
		}
		select {
		case <-p.wake:
		case <-c.quit:
		case <-t.C:
			writePollStatus(w, http.StatusNoContent, p.token)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// takeQueue hands what c has queued to a long-poll GET, which drains it:
// its bytes are held until the GET has written them (see written).
func (c *conn) takeQueue() []outMsg {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	q := c.queue
	c.queue = nil
	c.take()
	return q
}

// pollPost feeds the frames of a POST to c's handler.
func (s *Server) pollPost(w http.ResponseWriter, r *http.Request, c *conn) {
	p := c.poll
	if !p.begin(false) {
		tooMany(w, 0, "long poll: one batch at a time per session")
		return
	}
	defer p.done(false)
	// A batch is bounded as a websocket's frames are, each at most four
	// times MaxFrameBytes (larger closes a websocket), a batch so many.
	limit := int64(16 * s.cfg.MaxFrameBytes)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			http.Error(w, "long poll: batch too large: at most "+strconv.FormatInt(limit, 10)+" bytes", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "long poll: reading the batch failed", http.StatusBadRequest)
		return
	}
	frames := [][]byte{body}
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/x-ndjson") {
		frames = bytes.Split(body, []byte("\n"))
	}
	if len(frames) > maxPollBatch {
		http.Error(w, "long poll: batch too large: at most "+strconv.Itoa(maxPollBatch)+" frames", http.StatusRequestEntityTooLarge)
		return
	}
	for _, f := range frames {
		if len(bytes.TrimSpace(f)) == 0 {
			continue
		}
		if len(f) > 4*s.cfg.MaxFrameBytes { // as a websocket's read limit does
			c.shut(websocket.CloseMessageTooBig, "message too large", false)
			http.Error(w, "long poll: message too large: session closed", http.StatusRequestEntityTooLarge)
			return
		}
		if !c.received(p.ctx, pollFrame(f)) {
			writePollStatus(w, http.StatusGone, "")
			return
		}
	}
	writePollStatus(w, http.StatusOK, "")
}

// pollFrame is a line of a POST as the websocket would have read it:
// phoenix.js sends a binary frame's bytes in base64, and a text frame is
// a JSON array.
func pollFrame(line []byte) inFrame {
	if line[0] != '[' {
		if b, err := base64.StdEncoding.DecodeString(string(line)); err == nil {
			return inFrame{websocket.BinaryMessage, b}
		}
	}
	return inFrame{websocket.TextMessage, line}
}

// writePollStatus answers a long-poll request with status in the body,
// and token if it is not empty.
func writePollStatus(w http.ResponseWriter, status int, token string) {
	b := append(make([]byte, 0, 128), `{"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	if token != "" {
		b = append(b, `,"token":`...)
		b = appendString(b, token)
	}
	writePollBody(w, append(b, '}'))
}

// writePollMessages answers a GET with msgs, each serialized as a
// websocket's text frame would be, as a JSON string.
func writePollMessages(w http.ResponseWriter, token string, msgs []outMsg) error {
	b := append(make([]byte, 0, 4096), `{"status":200,"token":`...)
	b = appendString(b, token)
	b = append(b, `,"messages":[`...)
	var frame []byte
	first := true
	for i := range msgs {
		if msgs[i].op != 0 { // a websocket control frame
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		frame = msgs[i].appendTo(frame[:0])
		b = appendString(b, string(frame))
	}
	return writePollBody(w, append(b, "]}"...))
}

func writePollBody(w http.ResponseWriter, b []byte) error {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, err := w.Write(b)
	return err
}
