package web

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// One address holds at most the cap of open connections; the next is
// closed before anything is read, another address is not affected, and a
// closed connection frees its slot.
func TestLimitListenerCapsEachAddress(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := LimitListener(inner, 2)
	t.Cleanup(func() { _ = l.Close() })
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	next := func() net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(30 * time.Second):
			t.Fatal("no connection accepted in 30s")
			return nil
		}
	}
	// closedByServer: the server's end is gone, so a read ends with EOF
	// or a reset rather than waiting for bytes.
	closedByServer := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}

	dial("127.0.0.1")
	dial("127.0.0.1")
	first, _ := next(), next()
	if _, ok := first.(syscall.Conn); !ok {
		t.Fatal("an accepted connection hides its descriptor: the socket writer could not write to it directly")
	}
	third := dial("127.0.0.1")
	other := dial("127.0.0.2")
	if c := next(); c.RemoteAddr().(*net.TCPAddr).IP.String() != "127.0.0.2" {
		t.Fatalf("accepted %v past the cap of 127.0.0.1", c.RemoteAddr())
	}
	if !closedByServer(third) {
		t.Fatal("the third connection of 127.0.0.1 was left open")
	}
	_ = other
	_ = first.Close()
	_ = first.Close() // a second Close gives back nothing more
	dial("127.0.0.1")
	if c := next(); c.RemoteAddr().(*net.TCPAddr).IP.String() != "127.0.0.1" {
		t.Fatalf("accepted %v, want 127.0.0.1 again once a slot is free", c.RemoteAddr())
	}
	fourth := dial("127.0.0.1")
	if !closedByServer(fourth) {
		t.Fatal("a double Close gave back two slots")
	}
}
