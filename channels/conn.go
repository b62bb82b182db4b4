package channels

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/eventstore"
)

// identity is who a connection belongs to.
type identity struct {
	id       int64
	username string
}

// conn is one socket. Its reader is the goroutine of ServeHTTP, which owns
// sessions and strikes; its writer is the one goroutine that writes to the
// websocket; anyone may send (enqueue) or shut it.
type conn struct {
	srv       *Server
	ws        *websocket.Conn
	id        string
	user      identity
	addr      string
	userAgent string
	logger    *slog.Logger
	bucket    *bucket

	qmu        sync.Mutex
	queue      []outMsg      // frames waiting for the writer, at most cfg.QueueSize
	wake       chan struct{} // poked when queue becomes non-empty
	quit       chan struct{} // closed by shut: the connection is ending
	once       sync.Once
	closeCode  int    // set once, before quit is closed
	closeText  string // idem
	writerDone chan struct{}

	// Owned by the reader.
	sessions map[string]*session
	strikes  int
}

func newConn(s *Server, ws *websocket.Conn, r *http.Request, user identity) *conn {
	id := eventstore.NewID()
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return &conn{
		srv: s, ws: ws, id: id, user: user, addr: addr, userAgent: r.UserAgent(),
		logger:     s.logger.With("conn", id, "user_id", user.id),
		wake:       make(chan struct{}, 1),
		quit:       make(chan struct{}),
		writerDone: make(chan struct{}),
		sessions:   make(map[string]*session),
	}
}

// serve runs the connection until it closes, then records its viewers
// leaving. ctx is the request's.
func (c *conn) serve(ctx context.Context) {
	c.bucket = c.srv.limits.acquire(c.user.id)
	defer c.srv.limits.release(c.user.id)
	go c.writeLoop()
	c.readLoop(ctx)
	c.shut(websocket.CloseNormalClosure, "", false)
	// The client is gone; what remains must be recorded even while the
	// server shuts down, within a bound.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, s := range c.sessions {
		c.endSession(ctx, s, "disconnected")
	}
	<-c.writerDone
}

func (c *conn) readLoop(ctx context.Context) {
	c.ws.SetReadLimit(int64(4 * c.srv.cfg.MaxFrameBytes))
	// The writer writes frames to the socket itself (see writeLoop), so
	// pongs go through it too.
	c.ws.SetPingHandler(func(data string) error {
		c.send(outMsg{op: opPong, payload: []byte(data)})
		return nil
	})
	for {
		if err := c.ws.SetReadDeadline(time.Now().Add(c.srv.cfg.IdleTimeout)); err != nil {
			return
		}
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			c.logger.Debug("socket read ended", "err", err)
			return
		}
		select {
		case <-c.quit:
			return
		default:
		}
		c.handle(ctx, mt, data)
	}
}

// writeLoop is the connection's only writer. It takes everything queued
// at once and writes it with as few syscalls as possible: one websocket
// message per frame, many messages per write, in a buffer borrowed from a
// pool so that an idle connection holds none.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	defer c.ws.Close() // also ends the reader's ReadMessage
	var batch []outMsg
	for {
		select {
		case <-c.quit:
			c.writeClose()
			return
		default:
		}
		select {
		case <-c.wake:
		case <-c.quit:
			c.writeClose()
			return
		}
		c.qmu.Lock()
		batch, c.queue = c.queue, batch[:0]
		c.qmu.Unlock()
		if err := c.writeBatch(batch); err != nil {
			c.logger.Debug("socket write failed", "err", err)
			c.shut(websocket.CloseAbnormalClosure, "", true)
			return
		}
		clear(batch)         // drop the payloads
		if cap(batch) > 16 { // an idle connection keeps no burst's slice
			batch = nil
		}
	}
}

// writeBuffers are the writers' buffers, shared by all connections.
var writeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, writeChunk+4096); return &b }}

const writeChunk = 32 << 10

func (c *conn) writeBatch(batch []outMsg) error {
	bp := writeBuffers.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= 4*writeChunk {
			*bp = buf[:0]
			writeBuffers.Put(bp)
		}
	}()
	nc := c.ws.NetConn()
	_ = nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
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

// bigPayload is the size above which a payload is not copied to be sent.
const bigPayload = 8 << 10

var closeBracket = []byte("]")

func (c *conn) writeClose() {
	if c.closeCode == websocket.CloseAbnormalClosure { // nothing can be sent
		return
	}
	msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}

// send enqueues m without waiting. A connection whose queue is full is
// too slow for its viewers: it is shut, and its client will rejoin and
// catch up exactly.
func (c *conn) send(m outMsg) {
	select {
	case <-c.quit:
		return
	default:
	}
	c.qmu.Lock()
	full := len(c.queue) >= c.srv.cfg.QueueSize
	if !full {
		c.queue = append(c.queue, m)
	}
	c.qmu.Unlock()
	if !full {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	} else {
		c.logger.Info("disconnecting slow client: outgoing queue full", "queue", c.srv.cfg.QueueSize)
		c.srv.cfg.Observer.QueueDropped()
		c.shut(websocket.ClosePolicyViolation, "too slow: messages were not read in time", false)
		// A write in progress to a client that does not read would keep
		// the writer up to WriteTimeout: give it one more second.
		_ = c.ws.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
	}
}

// shut ends the connection with a close frame of code and text (the
// first call decides them). With hard, pending reads and writes fail at
// once, for when the client cannot be waited for.
func (c *conn) shut(code int, text string, hard bool) {
	c.once.Do(func() {
		c.closeCode, c.closeText = code, text
		close(c.quit)
	})
	if hard {
		now := time.Now()
		_ = c.ws.NetConn().SetWriteDeadline(now)
		_ = c.ws.NetConn().SetReadDeadline(now)
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
	c.reply(f, replyError(reason(c.logger, err)))
}

func (c *conn) meta() eventstore.Metadata {
	return eventstore.Metadata{
		UserID:        formatID(c.user.id),
		ConnectionID:  c.id,
		ClientAddr:    c.addr,
		CorrelationID: eventstore.NewID(),
	}
}
