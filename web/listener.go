package web

import (
	"errors"
	"net"
	"sync"
	"syscall"

	"github.com/videologue/videologue/internal/limit"
)

// LimitListener caps the connections that one client address may hold
// open at once (an IPv6 client by its /64, as limit.AddrKey keys it): a
// connection past the cap is closed as soon as it is accepted, before a
// byte is read, so one address cannot take the process's file
// descriptors or memory. Hijacked connections (websockets) count until
// they are closed. perAddr <= 0 returns l unchanged.
func LimitListener(l net.Listener, perAddr int) net.Listener {
	if perAddr <= 0 {
		return l
	}
	return &limitListener{Listener: l, open: limit.NewSlots(perAddr)}
}

type limitListener struct {
	net.Listener
	open *limit.Slots // per address key
}

// Accept returns the next connection within its address's cap, closing
// those over it.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := limit.AddrKey(c.RemoteAddr().String())
		if l.open.Take(key) {
			return &limitConn{Conn: c, release: func() { l.open.Release(key) }}, nil
		}
		_ = c.Close()
	}
}

// limitConn gives its address's slot back on its first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// SyscallConn exposes the descriptor of the connection beneath, so that
// the socket's writer can write to it without blocking as it does to an
// unwrapped connection.
func (c *limitConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.New("connection has no descriptor")
}
