package channels

import (
	"context"
	"errors"
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
// goroutine, which owns subscriptions and strikes; the frames anyone sends
// queue for a writer goroutine, the only one that writes. Both are started
// when their queue fills and end when it is empty, so that an idle
// connection costs one goroutine with a small stack: the handler's deep
// and varied work (joins, appends) never grows the reader's.
type conn struct {
	srv       *Server
	ws        *websocket.Conn
	id        string
	user      identity
	addr      string
	userAgent string
	addrKey   string // the key of the client's address in the limits

	qmu     sync.Mutex
	queue   []outMsg // frames waiting for the writer, at most cfg.QueueSize
	spare   []outMsg // the flusher's last small batch, emptied: the next queue
	writer  bool     // a writer (the flusher or writeLoop) has the socket; only it writes
	waiting bool     // the writer is writeLoop: it waits for the socket
	writers sync.WaitGroup
	// The bytes the connection holds for its client (see msgBytes):
	// queued, or taken by the writer and not yet written (flying). They
	// are bounded by cfg.QueueBytes; drained is closed when they are
	// all written, for the catch-ups that wait for it (see drained).
	qbytes    int
	flying    int
	peakBytes int // the most qbytes has been, for tests
	drainedC  chan struct{}
	// The writer's non-blocking writes (see flusher): raw is nil where
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
	c.writeClose()
	c.ws.Close()
	// The client is gone; what remains must be recorded even while the
	// server shuts down, within a bound.
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
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			c.log().Debug("socket read ended", "err", err)
			return
		}
		if !c.received(ctx, inFrame{mt, data}) {
			return
		}
	}
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

// writeLoop takes over from the flusher when a write has to wait for the
// socket: it writes rest, or else batch, then what is queued until
// nothing is, or the connection ends. It takes the whole queue at once
// and writes it with as few syscalls as possible: one websocket message
// per frame, many messages per write, in a buffer borrowed from a pool.
func (c *conn) writeLoop(rest []byte, batch []outMsg) {
	defer c.writers.Done()
	var err error
	if rest != nil {
		nc := c.ws.NetConn()
		c.refreshDeadline(nc)
		_, err = nc.Write(rest)
	} else if len(batch) > 0 {
		err = c.writeBatch(batch)
		clear(batch)
	}
	if err != nil {
		c.writeFailed(err)
		return
	}
	c.written()
	for {
		c.qmu.Lock()
		if len(c.queue) == 0 || c.ending() {
			c.keepSpare(batch)
			c.writer, c.waiting = false, false
			c.qmu.Unlock()
			return
		}
		batch, c.queue = c.queue, batch[:0]
		c.take()
		c.qmu.Unlock()
		if err := c.writeBatch(batch); err != nil {
			c.writeFailed(err)
			return
		}
		c.written()
		clear(batch)         // drop the payloads
		if cap(batch) > 16 { // no burst's slice is kept
			batch = nil
		}
	}
}

// writeFailed ends the connection after a failed write, and the writer's
// role with it.
func (c *conn) writeFailed(err error) {
	c.log().Debug("socket write failed", "err", err)
	c.shut(websocket.CloseAbnormalClosure, "", true)
	c.qmu.Lock()
	c.writer, c.waiting = false, false
	c.qmu.Unlock()
}

// writeBuffers are the writers' buffers, shared by all connections.
var writeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, writeChunk+4096); return &b }}

const writeChunk = 32 << 10

func (c *conn) writeBatch(batch []outMsg) error {
	nc := c.ws.NetConn()
	c.refreshDeadline(nc)
	if len(batch) == 1 && batch[0].wire != nil { // the common case: one broadcast, already encoded
		_, err := nc.Write(batch[0].wire)
		return err
	}
	bp := writeBuffers.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= 4*writeChunk {
			*bp = buf[:0]
			writeBuffers.Put(bp)
		}
	}()
	for i := range batch {
		m := &batch[i]
		if len(m.payload) > bigPayload && m.op == 0 {
			// A large payload (a crowded presence_state, a long join
			// reply) is written where it lies, not copied.
			buf = appendWSHead(buf, m)
			vec := net.Buffers{buf, m.payload, closeBracket}
			if _, err := vec.WriteTo(nc); err != nil {
				return err
			}
			buf = buf[:0]
			continue
		}
		buf = appendWSFrame(buf, m)
		if len(buf) >= writeChunk || i == len(batch)-1 {
			if _, err := nc.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}

// refreshDeadline gives the writes to come WriteTimeout to make progress.
// Moving the deadline costs a timer update: it is moved only once half of
// it is used up, so a write gets between half and all of WriteTimeout.
func (c *conn) refreshDeadline(nc net.Conn) {
	if now, wt := time.Now(), c.srv.cfg.WriteTimeout; c.deadline.Sub(now) < wt/2 {
		c.deadline = now.Add(wt)
		_ = nc.SetWriteDeadline(c.deadline)
	}
}

// bigPayload is the size above which a payload is not copied to be sent.
const bigPayload = 8 << 10

var closeBracket = []byte("]")

// writeClose sends the close frame, then reads and drops what the client
// still sends, until it closes too or closeLinger passes: closing a socket
// with unread input makes the kernel reset the connection, and a reset
// can destroy the close frame before the client reads it.
func (c *conn) writeClose() {
	if c.closeCode == websocket.CloseAbnormalClosure { // nothing can be sent
		return
	}
	msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
	if c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)) != nil {
		return
	}
	nc := c.ws.NetConn()
	if nc.SetReadDeadline(time.Now().Add(closeLinger)) != nil {
		return
	}
	var sink [512]byte
	for {
		if _, err := nc.Read(sink[:]); err != nil {
			return
		}
	}
}

// closeLinger bounds the wait for a client to close after the server's
// close frame.
const closeLinger = 250 * time.Millisecond

// send sends m and never waits. When the connection has no writer, the
// caller writes m itself, without waiting for the socket (a reply, from
// the handler that made it); otherwise m is queued behind what is. A
// connection whose queue is full is too slow for its viewers: it is shut,
// and its client will rejoin and catch up exactly.
func (c *conn) send(m outMsg) { c.enqueue(m, true) }

// fanOut queues m for the flusher, for the sender of a broadcast to many
// connections, which must not spend a write on each (see flusher). It
// reports deep if the queue is past a quarter of its bound while the
// socket takes writes (no writer waits on it): then it is the server that
// is behind, not the client, and the sender should let the flusher catch
// up (see hub.run).
func (c *conn) fanOut(m outMsg) (deep bool) { return c.enqueue(m, false) }

func (c *conn) enqueue(m outMsg, inline bool) (deep bool) {
	c.qmu.Lock()
	if c.ending() {
		c.qmu.Unlock()
		return false
	}
	size := msgBytes(&m)
	full := len(c.queue) >= c.srv.cfg.QueueSize || c.qbytes+size > c.srv.cfg.QueueBytes
	deep = !c.waiting && len(c.queue) >= c.srv.cfg.QueueSize/4
	now := false
	if !full {
		c.queue = append(c.queue, m)
		c.qbytes += size
		c.peakBytes = max(c.peakBytes, c.qbytes)
		if !c.writer {
			c.writer = true
			c.writers.Add(1)
			if now = inline && c.raw != nil; !now {
				c.srv.flusher.schedule(c)
			}
		}
	}
	c.qmu.Unlock()
	if now && c.flush() { // written here; what was queued meanwhile goes to the flusher
		c.srv.flusher.schedule(c)
	}
	if full {
		c.log().Info("disconnecting slow client: outgoing queue full", "frames", c.srv.cfg.QueueSize, "bytes", c.srv.cfg.QueueBytes)
		c.srv.cfg.Observer.QueueDropped()
		c.shut(websocket.ClosePolicyViolation, "too slow: messages were not read in time", false)
		// A write in progress to a client that does not read would keep
		// the writer up to WriteTimeout: give it one more second.
		_ = c.ws.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
	}
	return deep
}

// msgOverhead is what a frame costs in the queue besides its bytes: the
// outMsg itself.
const msgOverhead = 128

// msgBytes is what m costs the connection while it waits to be written.
// A payload shared by a broadcast's recipients counts for each of them:
// the bound is on what one client can make the server hold.
func msgBytes(m *outMsg) int {
	return msgOverhead + len(m.payload) + len(m.wire) + len(m.topic) + len(m.event) + len(m.joinRef) + len(m.ref)
}

// take marks everything queued as taken by the writer. c.qmu is held.
func (c *conn) take() { c.flying = c.qbytes }

// written records that what the writer took last is written, and wakes
// those waiting for the connection to drain once nothing is left.
func (c *conn) written() {
	c.qmu.Lock()
	c.qbytes -= c.flying
	c.flying = 0
	if c.qbytes == 0 && c.drainedC != nil {
		close(c.drainedC)
		c.drainedC = nil
	}
	c.qmu.Unlock()
}

// drained returns a channel that is closed once the connection holds
// nothing for its client: everything queued before the call, and since,
// has been written to the socket. Catch-up sends its next page then, so
// that a client that reads slowly gets history as fast as it reads, and
// one that does not read costs at most a page.
func (c *conn) drained() <-chan struct{} {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.qbytes == 0 {
		return closedChan
	}
	if c.drainedC == nil {
		c.drainedC = make(chan struct{})
	}
	return c.drainedC
}

// closedChan is a channel that is always closed.
var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

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
