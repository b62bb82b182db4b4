package channels

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"
)

// flusher writes what connections have queued, from a few goroutines of
// the Server's rather than one per connection. A broadcast to a crowded
// video makes thousands of connections ready at once: with a goroutine
// each, they filled the scheduler's run queue, and everything else (the
// next post's read, its append, the hub that fans it out) waited behind
// all of them. The flusher takes the ready connections in the order they
// became ready, writes each one's frames with one non-blocking write,
// and yields after every flushChunk of them so that other goroutines run
// in between.
//
// A connection whose socket does not take the whole write (the client is
// slow, or its window is full) is handed to a goroutine of its own, which
// waits for the socket with the write deadline (conn.writeLoop): one slow
// client never holds up the others.
//
// While it has connections to flush, the flusher keeps its goroutines
// busy, and Go's scheduler looks for sockets that became readable only
// when it has nothing else to run, or every 10 ms from its monitor: the
// next post's frame would wait that long to be read. So after every
// netpollEvery of writing, the flusher parks until a pipe it wrote to is
// read by a goroutine parked in the netpoller (see kick): the scheduler
// runs out of other work, polls the network, and readies that goroutine
// with every socket's reader that has input.
type flusher struct {
	mu      sync.Mutex
	ready   []*conn // connections with frames queued, in order, from head
	head    int
	running int // goroutines flushing
	max     int
	empty   chan struct{} // closed when ready empties, then replaced
	wg      sync.WaitGroup

	kickMu   sync.Mutex // held by the flusher that kicks
	kickR    *os.File   // nil: no pipe (see newFlusher)
	kickW    *os.File
	kicked   chan struct{}
	lastKick time.Time // under kickMu
}

// netpollEvery is how long a flusher writes before it lets the scheduler
// poll the network.
const netpollEvery = 500 * time.Microsecond

// flushChunk is how many connections a flusher takes at a time; it yields
// between chunks.
const flushChunk = 32

func newFlusher(logger *slog.Logger) *flusher {
	f := &flusher{max: runtime.GOMAXPROCS(0), kicked: make(chan struct{}, 1)}
	r, w, err := os.Pipe()
	if err != nil { // the flusher works without: frames are read later
		logger.Warn("flusher: no pipe to poll the network with", "err", err)
		return f
	}
	f.kickR, f.kickW = r, w
	f.wg.Add(1)
	go f.pace()
	return f
}

// pace reads the kick pipe until it is closed, and tells the flusher
// that kicked each time.
func (f *flusher) pace() {
	defer f.wg.Done()
	defer f.kickR.Close()
	var b [64]byte
	for {
		if _, err := f.kickR.Read(b[:]); err != nil {
			return
		}
		select {
		case f.kicked <- struct{}{}:
		default:
		}
	}
}

// kick has the scheduler poll the network, if netpollEvery has passed
// since the last time and no other flusher is at it.
func (f *flusher) kick() {
	if f.kickW == nil || !f.kickMu.TryLock() {
		return
	}
	defer f.kickMu.Unlock()
	now := time.Now()
	if now.Sub(f.lastKick) < netpollEvery {
		return
	}
	f.lastKick = now
	if _, err := f.kickW.Write([]byte{0}); err != nil {
		return
	}
	<-f.kicked
}

// schedule queues c, whose writer role the caller has taken (conn.send),
// and starts a flushing goroutine if one is due.
func (f *flusher) schedule(c *conn) {
	f.mu.Lock()
	if f.head > 0 && len(f.ready) == cap(f.ready) { // reuse the room taken from
		n := copy(f.ready, f.ready[f.head:])
		clear(f.ready[n:])
		f.ready, f.head = f.ready[:n], 0
	}
	f.ready = append(f.ready, c)
	start := f.running < f.max && f.running*flushChunk < len(f.ready)-f.head
	if start {
		f.running++
		f.wg.Add(1)
	}
	f.mu.Unlock()
	if start {
		go f.run()
	}
}

// drained waits until no connection is waiting to be flushed, or ctx ends.
func (f *flusher) drained(ctx context.Context) error {
	f.mu.Lock()
	if len(f.ready) == f.head {
		f.mu.Unlock()
		return nil
	}
	if f.empty == nil {
		f.empty = make(chan struct{})
	}
	ch := f.empty
	f.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run flushes ready connections until there are none.
func (f *flusher) run() {
	defer f.wg.Done()
	var chunk [flushChunk]*conn
	for {
		f.mu.Lock()
		n := copy(chunk[:], f.ready[f.head:])
		if n == 0 {
			f.running--
			f.ready, f.head = f.ready[:0], 0
			if f.empty != nil {
				close(f.empty)
				f.empty = nil
			}
			f.mu.Unlock()
			return
		}
		clear(f.ready[f.head : f.head+n])
		f.head += n
		f.mu.Unlock()
		for i, c := range chunk[:n] {
			if c.flush() {
				f.schedule(c) // more was queued meanwhile: after the others
			}
			chunk[i] = nil
		}
		f.kick()
		runtime.Gosched()
	}
}

// close waits for the flushing goroutines to end, once no connection is
// open (none is left for long), and stops the pacer.
func (f *flusher) close() {
	if f.kickW != nil {
		f.kickW.Close()
	}
	f.wg.Wait()
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
	c.written()
	c.qmu.Lock()
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
			if len(batch[i].payload) > bigPayload {
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
