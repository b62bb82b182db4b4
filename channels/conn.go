package channels

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/videologue/videologue/eventstore"
)

// identity is who a connection belongs to.
type identity struct {
	id       int64
	username string
	signIn   string // the sign-in its token was minted for (see signin.go)
}

// conn is one socket. Its reader, a goroutine of the Server's, reads
// frames and ends the connection. The frames it reads queue for a handler
// goroutine, which owns subscriptions and strikes; it is started when a
// frame is queued and ends when the inbox is empty, so that an idle
// connection costs one goroutine with a small stack: the handler's deep
// and varied work (joins, appends) never grows the reader's. The frames
// anyone sends queue for the connection's writer, one at a time (see
// writer.go); a long-poll session's GETs take them instead (longpoll.go).
type conn struct {
	srv *Server
	// The transport: a websocket (ws), or a long-poll session (poll,
	// see longpoll.go) whose requests take the queue and feed the inbox.
	// Exactly one is set.
	ws        *websocket.Conn
	poll      *pollSession
	id        string
	user      identity
	addr      string
	userAgent string
	addrKey   string // the key of the client's address in the limits
	deflate   bool   // the websocket negotiated permessage-deflate (deflate.go)

	qmu     sync.Mutex
	queue   []outMsg // frames waiting for the writer, at most cfg.QueueSize
	spare   []outMsg // the flusher's last small batch, emptied: the next queue
	writer  bool     // someone holds the writer's role: only it writes (writer.go)
	waiting bool     // the writer is writeLoop: it waits for the socket
	writers sync.WaitGroup
	// The bytes the connection holds for its client (see msgBytes):
	// queued, or taken by the writer or a long-poll GET and not yet
	// written (flying). They are bounded by cfg.QueueBytes; drainedC is
	// closed when they are all written, for the catch-ups that wait for
	// it (see drained).
	qbytes    int
	flying    int
	peakBytes int // the most qbytes has been, for tests
	drainedC  chan struct{}
	// The writer's non-blocking writes (see writeNow): raw is nil where
	// the socket has no file descriptor (TLS in process, tests' pipes,
	// and Windows: see rawWrites).
	raw       syscall.RawConn
	rawWrite  func(fd uintptr) bool
	rawBuf    []byte
	rawN      int
	deadline  time.Time     // the socket's write deadline; the writer's
	quit      chan struct{} // closed by shut: the connection is ending
	ended     atomic.Bool   // quit is closed; cheaper to ask on every frame
	once      sync.Once
	closeCode int    // set once, before quit is closed
	closeText string // idem
	// broken: a write failed, maybe in the middle of a frame, so nothing
	// more can be sent. Set by the writer; read once the writers are done.
	broken bool

	imu      sync.Mutex
	inbox    []inFrame     // frames read, waiting for the handler
	handler  bool          // the handler goroutine is running
	room     chan struct{} // poked when the handler takes frames from a full inbox
	handlers sync.WaitGroup

	// Owned by the handler.
	subscriptions map[string]*subscription
	frames        *rate.Limiter // the budget of inbound frames, of every kind
	strikes       int
}

func newConn(s *Server, ws *websocket.Conn, r *http.Request, user identity, addrKey string) *conn {
	id := eventstore.NewID()
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if addrKey == addr { // an IPv4 address is its own key: keep one copy
		addrKey = addr
	}
	c := &conn{
		srv: s, ws: ws, id: id, user: user, addr: addr, addrKey: addrKey, userAgent: r.UserAgent(),
		quit:          make(chan struct{}),
		room:          make(chan struct{}, 1),
		subscriptions: make(map[string]*subscription),
		frames:        newFrameBudget(s.cfg),
	}
	if ws == nil {
		return c
	}
	c.deflate = s.upgrader.EnableCompression && offersDeflate(r)
	if sc, ok := ws.NetConn().(syscall.Conn); ok && rawWrites {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw, c.rawWrite = raw, c.rawWriteFn
		}
	}
	return c
}

// serve runs the connection until it closes, then records its viewers
// leaving. ctx carries nothing of the upgrade request, which has ended.
func (c *conn) serve(ctx context.Context) {
	c.readLoop(ctx)
	c.shut(websocket.CloseNormalClosure, "", false)
	c.handlers.Wait() // from here the subscriptions are the reader's
	// Once quit is closed, a sender that takes qmu sends nothing; one that
	// took it before has finished starting its writer.
	c.qmu.Lock()
	c.qmu.Unlock() //nolint:staticcheck // a barrier, see above
	c.writers.Wait()
	c.writeRest()
	c.writeClose()
	c.ws.Close()
	c.leaveAll(ctx)
}

// leaveAll ends every subscription, once the connection has ended and
// its handler is done: the client is gone, and what remains must be
// recorded even while the server shuts down, within a bound.
func (c *conn) leaveAll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, s := range c.subscriptions {
		c.endSubscription(ctx, s, "disconnected")
	}
}

func (c *conn) readLoop(ctx context.Context) {
	c.ws.SetReadLimit(int64(4 * c.srv.cfg.MaxFrameBytes))
	// Only the writer writes frames (see send), so pongs go that way too.
	c.ws.SetPingHandler(func(data string) error {
		c.send(outMsg{op: opPong, payload: []byte(data)})
		return nil
	})
	for {
		if err := c.ws.SetReadDeadline(time.Now().Add(c.srv.cfg.IdleTimeout)); err != nil {
			return
		}
		// shut closes quit before it cuts the read short: checked after
		// the deadline is set, one or the other ends this loop.
		if c.ending() {
			return
		}
		mt, data, err := c.readMessage()
		if err != nil {
			c.log().Debug("socket read ended", "err", err)
			return
		}
		if !c.received(ctx, inFrame{mt, data}) {
			return
		}
	}
}

// readMessage reads the next message. A compressed one is bounded once
// inflated too, not only as sent: the read limit (SetReadLimit) counts
// the bytes on the wire.
func (c *conn) readMessage() (int, []byte, error) {
	mt, r, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	limit := int64(4 * c.srv.cfg.MaxFrameBytes)
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err == nil && int64(len(data)) > limit {
		// As gorilla closes a message too large as sent.
		c.shut(websocket.CloseMessageTooBig, "", false)
		err = websocket.ErrReadLimit
	}
	return mt, data, err
}

// inFrame is a frame read, waiting to be handled.
type inFrame struct {
	mt   int
	data []byte
}

// maxInbox is how many frames the reader reads ahead of the handler; then
// it stops reading, and the client's writes wait in the socket.
const maxInbox = 16

// received queues f for the handler, and starts it if it is not running.
// It waits while the inbox is full, and reports false if the connection
// ends meanwhile.
func (c *conn) received(ctx context.Context, f inFrame) bool {
	for {
		c.imu.Lock()
		if c.ending() {
			c.imu.Unlock()
			return false
		}
		if len(c.inbox) < maxInbox {
			c.inbox = append(c.inbox, f)
			if !c.handler {
				c.handler = true
				c.handlers.Add(1)
				go c.handleLoop(ctx)
			}
			c.imu.Unlock()
			return true
		}
		c.imu.Unlock()
		select {
		case <-c.room:
		case <-c.quit:
			return false
		}
	}
}

// handleLoop handles the frames read, in order, until there are none or
// the connection ends.
func (c *conn) handleLoop(ctx context.Context) {
	defer c.handlers.Done()
	for {
		c.imu.Lock()
		if len(c.inbox) == 0 || c.ending() {
			c.inbox = nil
			c.handler = false
			c.imu.Unlock()
			return
		}
		f := c.inbox[0]
		c.inbox[0] = inFrame{}
		c.inbox = c.inbox[1:]
		if len(c.inbox) == maxInbox-1 {
			select {
			case c.room <- struct{}{}:
			default:
			}
		}
		c.imu.Unlock()
		c.handle(ctx, f.mt, f.data)
	}
}

func (c *conn) ending() bool { return c.ended.Load() }

// log is the server's logger with the connection's attributes. It is
// made when something is logged, rarely: kept in every connection, it was
// a tenth of an idle connection's heap.
func (c *conn) log() *slog.Logger { return c.srv.logger.With("conn", c.id, "user_id", c.user.id) }

// shut ends the connection with a close frame of code and text (the
// first call decides them): the reader's pending read ends at once, and
// the reader closes the socket once the writer, if any, is done. With
// hard, a pending write fails at once too, for when the client cannot be
// waited for.
func (c *conn) shut(code int, text string, hard bool) {
	c.once.Do(func() {
		c.closeCode, c.closeText = code, text
		c.ended.Store(true)
		close(c.quit)
	})
	if c.ws == nil {
		return // a long-poll session ends on quit (see pollSession.run)
	}
	// The reader ends the connection: cut its read short.
	now := time.Now()
	_ = c.ws.NetConn().SetReadDeadline(now)
	if hard {
		_ = c.ws.NetConn().SetWriteDeadline(now)
	}
}

// pushError tells the client that a frame could not be handled at all.
func (c *conn) pushError(reason string) {
	c.send(outMsg{topic: "phoenix", event: "phx_error", payload: errorPayload(reason)})
}

// reply answers frame f.
func (c *conn) reply(f *inbound, payload []byte) {
	c.send(outMsg{joinRef: f.joinRef, ref: f.ref, topic: f.topic, event: "phx_reply", payload: payload})
}

func (c *conn) replyErr(f *inbound, err error) {
	c.observeRefusal(f, err)
	if rw := (*historyRewoundError)(nil); errors.As(err, &rw) {
		c.reply(f, rw.reply()) // the one refusal that says more than a reason
		return
	}
	c.reply(f, replyError(reason(c.log(), err)))
}

func (c *conn) meta() eventstore.Metadata {
	return eventstore.Metadata{
		UserID:        formatID(c.user.id),
		ConnectionID:  c.id,
		ClientAddr:    c.addr,
		CorrelationID: eventstore.NewID(),
	}
}
