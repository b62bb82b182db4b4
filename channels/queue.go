package channels

// A connection's queue is bounded in bytes as well as in frames: the
// bound is on what one client can make the server hold, and paged
// catch-up sends its next page only once the connection has drained.

// msgOverhead is what a frame costs in the queue besides its bytes: the
// outMsg itself.
const msgOverhead = 128

// msgBytes is what m costs the connection while it waits to be written.
// A payload shared by a broadcast's recipients counts for each of them:
// the bound is on what one client can make the server hold.
func msgBytes(m *outMsg) int {
	return msgOverhead + len(m.body()) + len(m.wire) + len(m.topic) + len(m.event) + len(m.joinRef) + len(m.ref)
}

// take marks everything queued as taken by the writer. c.qmu is held.
func (c *conn) take() { c.flying = c.qbytes }

// written records that what the writer took last is written, and wakes
// those waiting for the connection to drain once nothing is left. c.qmu
// is held: the writer takes it next anyway, to look for more.
func (c *conn) written() {
	c.qbytes -= c.flying
	c.flying = 0
	if c.qbytes == 0 && c.drainedC != nil {
		close(c.drainedC)
		c.drainedC = nil
	}
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
