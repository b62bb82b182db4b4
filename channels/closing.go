package channels

// A connection's last writes, by its reader once the writers are done
// (conn.serve): what was still queued, then the close frame.

import (
	"time"

	"github.com/gorilla/websocket"
)

// writeRest writes what was queued before the connection was shut (the
// refusal that ended it, say), ahead of the close frame, within
// closeLinger: a client that reads gets it, one that does not costs no
// more than that. The writers are done; nothing else writes.
func (c *conn) writeRest() {
	c.qmu.Lock()
	rest := c.queue
	c.queue = nil
	c.qmu.Unlock()
	if c.broken || c.closeCode == websocket.CloseAbnormalClosure || len(rest) == 0 {
		return
	}
	var buf []byte
	for i := range rest {
		buf = appendWSFrame(buf, &rest[i])
	}
	nc := c.ws.NetConn()
	if err := nc.SetWriteDeadline(time.Now().Add(closeLinger)); err != nil {
		c.broken = true
		return
	}
	if _, err := nc.Write(buf); err != nil {
		c.broken = true
	}
}

// writeClose sends the close frame, then reads and drops what the client
// still sends, until it closes too or closeLinger passes: closing a socket
// with unread input makes the kernel reset the connection, and a reset
// can destroy the close frame before the client reads it.
func (c *conn) writeClose() {
	// After a failed write the stream may end mid-frame: a close frame
	// would be read as that frame's rest.
	if c.broken || c.closeCode == websocket.CloseAbnormalClosure {
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
