package channels

import (
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// A connection's writes have one owner at a time, the writer: whoever set
// c.writer, under c.qmu, when it found the queue without one. Everyone
// else only queues (send, fanOut) and never waits on a socket. The role
// passes, never shared, along one path:
//
//  1. A sender that queues onto a connection without a writer takes the
//     role. A reply (send) is written at once by the goroutine that made
//     it, without waiting for the socket (flush): a join reply does not
//     queue behind a crowded video's fan-out. A broadcast (fanOut) hands
//     the role to the flusher (flusher.go), which writes thousands of
//     connections from a few goroutines.
//  2. Whoever holds the role writes the whole queue with one
//     non-blocking write (writeNow), then releases the role, or keeps it
//     if more was queued meanwhile (the flusher takes the connection
//     again, after the others).
//  3. When the socket does not take the whole write (the client is slow,
//     its window full), the role goes to a goroutine of the connection's
//     own, writeLoop, which waits for the socket with the write deadline
//     and writes until the queue is empty: a slow client holds up no one
//     but itself.
//  4. The connection's reader (conn.serve) waits for the role's last
//     holder (c.writers) before it writes the close frame.
//
// Where a socket has no descriptor to write to without blocking (TLS in
// process, Windows: c.raw is nil), replies go to the flusher too, and it
// hands the role straight to writeLoop. A long-poll session has no writer at all: its GETs take the
// queue (longpoll.go).
//
// Why not simply one goroutine per connection that writes its queue, the
// plainest design: a broadcast to a crowded video then starts thousands of
// goroutines at once, each for one small write. Measured beside this one
// with cmd/vlload (docs/BENCHMARKS.md, "The writer"), that cost several
// times the CPU per delivery, and the run queue they filled held up the
// log's commit loop and the posters' reads until posts no longer kept
// pace. The non-blocking writes go to the socket's descriptor
// (rawwrite_unix.go) because net.Conn has no write that returns rather than
// wait for room.

// send sends m and never waits. When the connection has no writer, the
// caller writes m itself, without waiting for the socket (a reply, from
// the handler that made it); otherwise m is queued behind what is. A
// connection whose queue is full is too slow for its viewers: it is shut,
// and its client will rejoin and catch up exactly.
func (c *conn) send(m outMsg) { c.enqueue(true, m) }

// fanOut queues m for the flusher, for the sender of a broadcast to many
// connections, which must not spend a write on each (see flusher). It
// reports deep if the queue is past a quarter of its bound while the
// socket takes writes (no writer waits on it): then it is the server that
// is behind, not the client, and the sender should let the flusher catch
// up (see hub.run).
func (c *conn) fanOut(m outMsg) (deep bool) { return c.enqueue(false, m) }

// fanOutAll queues ms as fanOut does, in one step: the frames of one
// broadcast round (a window of reaction counts) sit together in the
// queue, so the writer sends them in one write, and the queue grows once.
func (c *conn) fanOutAll(ms []outMsg) (deep bool) { return c.enqueue(false, ms...) }

func (c *conn) enqueue(inline bool, ms ...outMsg) (deep bool) {
	c.qmu.Lock()
	if c.ending() {
		c.qmu.Unlock()
		return false
	}
	size := 0
	for i := range ms {
		size += msgBytes(&ms[i])
	}
	full := len(c.queue)+len(ms) > c.srv.cfg.QueueSize || c.qbytes+size > c.srv.cfg.QueueBytes
	// A long-poll session's queue waits for its client's next GET: a deep
	// one says nothing of the server.
	deep = c.poll == nil && !c.waiting && len(c.queue) >= c.srv.cfg.QueueSize/4
	now := false
	if !full {
		c.queue = append(c.queue, ms...)
		c.qbytes += size
		c.peakBytes = max(c.peakBytes, c.qbytes)
		if c.poll != nil {
			c.poll.notify()
		} else if !c.writer {
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
		if c.ws != nil {
			_ = c.ws.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
		}
	}
	return deep
}

// flush writes what c has queued, for the flusher or for a sender that
// took the writer's role (conn.send). It reports true if c
// is to be flushed again, its writer role kept. Otherwise the role is
// released, or handed to a goroutine of c's own that finishes a write the
// socket did not take at once.
func (c *conn) flush() (again bool) {
	c.qmu.Lock()
	if len(c.queue) == 0 || c.ending() {
		c.writer = false
		c.qmu.Unlock()
		c.writers.Done()
		return false
	}
	batch := c.queue
	c.queue, c.spare = c.spare, nil
	c.take()
	c.qmu.Unlock()

	rest, done := c.writeNow(batch)
	if !done { // the socket must be waited for, by a goroutine of c's own
		c.qmu.Lock()
		c.waiting = true
		c.qmu.Unlock()
		if rest == nil {
			go c.writeLoop(nil, batch)
		} else {
			clear(batch)
			go c.writeLoop(rest, nil)
		}
		return false
	}
	clear(batch) // drop the payloads
	c.qmu.Lock()
	c.written()
	c.keepSpare(batch)
	again = len(c.queue) > 0 && !c.ending()
	if !again {
		c.writer = false
	}
	c.qmu.Unlock()
	if !again {
		c.writers.Done()
	}
	return again
}

// keepSpare keeps a small drained batch as the next queue's room, so that
// the next frames need no allocation. c.qmu is held.
func (c *conn) keepSpare(batch []outMsg) {
	if cap(batch) <= 4 {
		c.spare = batch[:0]
	}
}

// writeNow writes batch without waiting for the socket. It reports done
// if the whole batch was written. Otherwise rest is what is left to write
// (nil: the whole batch, as writeBatch writes it), for a writer that
// may wait.
func (c *conn) writeNow(batch []outMsg) (rest []byte, done bool) {
	if c.raw == nil {
		return nil, false
	}
	var buf []byte
	var pooled *[]byte
	if len(batch) == 1 && batch[0].wire != nil { // one broadcast, already encoded
		buf = batch[0].wire
	} else {
		for i := range batch {
			if len(batch[i].body()) > bigPayload {
				return nil, false // written where it lies, by writeBatch
			}
		}
		pooled = writeBuffers.Get().(*[]byte)
		buf = (*pooled)[:0]
		for i := range batch {
			buf = appendWSFrame(buf, &batch[i])
		}
	}
	n := c.writeRaw(buf)
	switch {
	case n == len(buf):
		done = true
	case pooled != nil:
		rest = append([]byte(nil), buf[n:]...) // the pooled buffer goes back
	default:
		rest = buf[n:] // shared and never written to
	}
	if pooled != nil && cap(buf) <= 4*writeChunk {
		*pooled = buf[:0]
		writeBuffers.Put(pooled)
	}
	return rest, done
}

// writeRaw makes one non-blocking write of b to the socket and returns
// how much of it was written; 0 also when the socket had no room or
// failed: the writer that takes over meets the failure again.
func (c *conn) writeRaw(b []byte) int {
	c.rawBuf, c.rawN = b, 0
	if err := c.raw.Write(c.rawWrite); err != nil {
		c.rawN = 0
	}
	c.rawBuf = nil
	return c.rawN
}

// rawWriteFn is c.rawWrite: the callback of syscall.RawConn.Write, made
// once per connection so that a write allocates nothing.
func (c *conn) rawWriteFn(fd uintptr) bool {
	for c.rawN < len(c.rawBuf) {
		n, err := writeFD(fd, c.rawBuf[c.rawN:])
		if n > 0 {
			c.rawN += n
		}
		if err != nil || n <= 0 {
			break // EAGAIN: no room; or a failure, met again by the writer
		}
	}
	return true // never wait here
}

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
	for { // each turn follows a write that succeeded
		c.qmu.Lock()
		c.written()
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
	c.broken = true
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
		if len(m.body()) > bigPayload && m.op == 0 {
			// A large payload (a crowded presence_state, a long join
			// reply) is written where it lies, not copied.
			buf = appendWSHead(buf, m)
			vec := net.Buffers{buf, m.body(), closeBracket}
			if m.deflated != nil { // its "]" is inside
				vec = vec[:2]
			}
			c.refreshDeadline(nc)
			if _, err := vec.WriteTo(nc); err != nil {
				return err
			}
			buf = buf[:0]
			continue
		}
		buf = appendWSFrame(buf, m)
		if len(buf) >= writeChunk || i == len(batch)-1 {
			// The deadline bounds a wait for the client to make room,
			// not a whole batch: a page of catch-up to a client that
			// reads steadily but slowly is not cut.
			c.refreshDeadline(nc)
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
