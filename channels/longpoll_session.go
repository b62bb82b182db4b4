package channels

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/internal/limit"
)

// A long-poll session's state, its signed token and its life; the
// requests that serve it are in longpoll.go.

// maxPollGets bounds a session's GETs waiting at once: the client polls
// one at a time, and one it gave up on may still be waiting here.
const maxPollGets = 2

// pollSession is the long-poll transport of one conn (conn.poll).
type pollSession struct {
	id      string
	token   string          // the id and its signature, see pollToken
	ctx     context.Context // the handler's, for the frames POSTed
	timeout time.Duration
	wake    chan struct{} // poked when frames are queued

	mu    sync.Mutex
	gets  int       // GETs waiting
	posts int       // POSTs being read or handled
	last  time.Time // when the last request ended, or the session began
}

func newPollKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// pollToken signs session id for userID: a token is worthless on another
// node, after a restart, or to another user.
func (s *Server) pollToken(id string, userID int64) string {
	mac := hmac.New(sha256.New, s.pollKey)
	mac.Write([]byte(id))
	mac.Write([]byte{0})
	mac.Write(strconv.AppendInt(nil, userID, 10))
	return pollTokenPrefix + id + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// resumePoll returns the live session that token names, or nil.
func (s *Server) resumePoll(token string) *conn {
	rest, ok := strings.CutPrefix(token, pollTokenPrefix)
	if !ok {
		return nil
	}
	id, _, ok := strings.Cut(rest, ".")
	if !ok {
		return nil
	}
	s.mu.Lock()
	c := s.polls[id]
	s.mu.Unlock()
	if c == nil || !hmac.Equal([]byte(s.pollToken(id, c.user.id)), []byte(token)) {
		return nil
	}
	return c
}

// run waits until the session ends, ending it when it has not been
// polled for twice its timeout, then records its viewers leaving.
func (p *pollSession) run(c *conn) {
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	for !c.ending() {
		select {
		case <-c.quit:
		case <-t.C:
			if p.idle() >= 2*p.timeout {
				c.shut(websocket.CloseGoingAway, "long-poll session expired", false)
			}
			t.Reset(p.timeout)
		}
	}
	// Once quit is closed, received starts no handler; one that took imu
	// before has added itself to handlers.
	c.imu.Lock()
	c.imu.Unlock() //nolint:staticcheck // a barrier, see above
	c.handlers.Wait()
	c.leaveAll(p.ctx)
}

// notify wakes a waiting GET; c.qmu is held.
func (p *pollSession) notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *pollSession) idle() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gets > 0 {
		return 0
	}
	return time.Since(p.last)
}

// begin counts a request in flight, if there is room for it: at most
// maxPollGets GETs, and one POST, whose body it holds (phoenix.js sends
// its next batch once the last is answered).
func (p *pollSession) begin(get bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case get && p.gets < maxPollGets:
		p.gets++
	case !get && p.posts == 0:
		p.posts++
	default:
		return false
	}
	return true
}

// done records a request's end.
func (p *pollSession) done(get bool) {
	p.mu.Lock()
	if get {
		p.gets--
	} else {
		p.posts--
	}
	p.last = time.Now()
	p.mu.Unlock()
}

// endedStatus is what a poll of an ended session answers: 403 for one
// whose sign-in ended, on which phoenix.js closes with 1008 "forbidden"
// and stops, as a websocket closed with 1008 "signed out" is left closed
// by the page; otherwise 410, on which it reconnects.
func endedStatus(c *conn) int {
	if c.closeText == closeSignedOut { // set before ended, see shut
		return http.StatusForbidden
	}
	return http.StatusGone
}

// goneStatus is what a request for a session that is no more answers:
// 403 if its user token names an ended sign-in (see endedStatus), else
// 410. The check counts as a connect attempt of the address's.
func (s *Server) goneStatus(r *http.Request, user string) int {
	if user == "" {
		return http.StatusGone
	}
	if ok, _ := s.limits.connects.Addr.Reserve(limit.AddrKey(r.RemoteAddr), s.cfg.Now()); !ok {
		return http.StatusGone
	}
	id, signIn, err := s.deps.Tokens.Verify(user)
	if err != nil {
		return http.StatusGone
	}
	if code, _ := s.checkSignIn(r.Context(), id, signIn); code == http.StatusForbidden {
		return http.StatusForbidden
	}
	return http.StatusGone
}
