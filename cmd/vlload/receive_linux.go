//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// receive reads every viewer's socket from one goroutine with a
// level-triggered epoll: per ready socket one read into a scratch buffer,
// whose frames are recorded as viewer.read records a poster's. A goroutine
// per socket cost a netpoll wake-up, a goroutine switch and two reads (the
// second one EAGAIN) per message, most of the tool's core at 200,000
// deliveries a second.
//
// The sockets stay open net.Conns, which the viewers write to (join,
// heartbeats). Go's netpoller keeps them registered (edge-triggered): its
// epoll_wait still reports their arrivals, a little kernel time, but with
// no goroutine reading them it wakes none.
//
// The loop does not block in epoll_wait: the epoll descriptor is itself
// registered with Go's netpoller (an epoll descriptor is readable while
// its set has events), and the loop parks there once epoll_wait with a
// zero timeout finds nothing, and is woken like any reader, on the thread
// that polls. Blocked in a system call instead, it would lose its P to
// sysmon between bursts and have to get one back. (At 500 viewers and
// 50,000 deliveries/s the two spent the same CPU within noise; most of it
// is the kernel's: reads, and the ACK each read sends over loopback.)
//
// stop ends the loop and waits for it; the viewers' sockets must stay open
// until it has returned.
func receive(viewers []*viewer, spin time.Duration) (stop func(), err error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("epoll fd: %w", err)
	}
	// Non-blocking, so os.NewFile registers it with the netpoller.
	ep := os.NewFile(uintptr(epfd), "epoll")
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, err
	}
	var byFD []*viewer // indexed by descriptor
	now := readNow()
	for _, v := range viewers {
		tc, ok := v.conn.(*net.TCPConn)
		if !ok {
			ep.Close()
			return nil, fmt.Errorf("viewer socket is a %T, not a *net.TCPConn", v.conn)
		}
		vc, err := tc.SyscallConn()
		if err != nil {
			ep.Close()
			return nil, err
		}
		if err := vc.Control(func(fd uintptr) { v.fd = int(fd) }); err != nil {
			ep.Close()
			return nil, err
		}
		// The kernel stamps what it queues on the socket (see receipt).
		if err := syscall.SetsockoptInt(v.fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
			ep.Close()
			return nil, fmt.Errorf("SO_TIMESTAMPNS: %w", err)
		}
		// What the join left in the buffer comes first.
		if !v.feed(nil, now) {
			continue
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(v.fd)}
		if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, v.fd, &ev); err != nil {
			ep.Close()
			return nil, fmt.Errorf("epoll_ctl: %w", err)
		}
		for len(byFD) <= v.fd {
			byFD = append(byFD, nil)
		}
		byFD[v.fd] = v
	}
	done := make(chan struct{})
	var stopping atomic.Bool
	go func() {
		defer close(done)
		l := &loop{epfd: epfd, byFD: byFD, spin: spin, events: make([]syscall.EpollEvent, 512), scratch: make([]byte, 256<<10),
			oob: make([]byte, syscall.CmsgSpace(16))}
		// Read returns once ep is closed; its function, false when
		// epoll_wait found nothing, has the goroutine wait until the
		// epoll descriptor is readable.
		err := rc.Read(l.serve)
		if l.err != nil {
			err = l.err
		}
		if err != nil && !stopping.Load() {
			for _, v := range byFD { // cannot happen with a valid set
				if v != nil {
					v.fail(fmt.Errorf("epoll: %w", err))
				}
			}
		}
	}()
	return func() {
		stopping.Store(true)
		ep.Close() // waits for serve to return, wakes its wait
		<-done
	}, nil
}

type loop struct {
	epfd    int
	byFD    []*viewer
	events  []syscall.EpollEvent
	scratch []byte
	oob     []byte // the read's control message: its arrival time
	spin    time.Duration
	err     error
}

// serve handles the ready sockets until epoll_wait has found none for
// l.spin; then it returns false, to wait. While it spins it yields, so
// that the posters run on time.
//
// The spin is for the server's sake: over loopback, the server's write
// runs the receiving side too, and waking a receiver that sleeps is a
// good part of its cost (an interrupt to the other core, which in a
// virtual machine is dear). Real clients on their own machines would not
// charge the server for that; a receiver that is awake when the next
// frames come does not either.
func (l *loop) serve(uintptr) bool {
	var idleSince time.Time
	for {
		n, err := syscall.EpollWait(l.epfd, l.events, 0)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			l.err = fmt.Errorf("epoll_wait: %w", err)
			return true
		}
		if n == 0 {
			if l.spin <= 0 {
				return false
			}
			now := time.Now()
			if idleSince.IsZero() {
				idleSince = now
			} else if now.Sub(idleSince) >= l.spin {
				return false
			}
			runtime.Gosched()
			continue
		}
		idleSince = time.Time{}
		for _, ev := range l.events[:n] {
			v := l.byFD[ev.Fd]
			if v == nil {
				continue
			}
			// One read: level triggering reports the socket again if more
			// is left, so no read ends in EAGAIN.
			m, oobn, _, _, err := syscall.Recvmsg(v.fd, l.scratch, l.oob, 0)
			switch {
			case errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EAGAIN):
				continue
			case err != nil:
				v.fail(err)
				l.drop(v)
				continue
			case m == 0:
				v.fail(io.EOF)
				l.drop(v)
				continue
			}
			now := time.Now().UnixNano()
			at := receipt{arrived: arrival(l.oob[:oobn], now), read: now}
			if !v.feed(l.scratch[:m], at) {
				l.drop(v)
			}
		}
	}
}

// arrival is the time in oob's SCM_TIMESTAMPNS message: when the kernel
// queued the last of the bytes read on the socket, so that of several
// frames read at once, the earlier ones count as late as the last. It is
// orElse if oob has none.
func arrival(oob []byte, orElse int64) int64 {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return orElse
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec, nsec := binary.NativeEndian.Uint64(m.Data), binary.NativeEndian.Uint64(m.Data[8:])
			return int64(sec)*1e9 + int64(nsec)
		}
	}
	return orElse
}

// drop stops watching v's socket.
func (l *loop) drop(v *viewer) {
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, v.fd, nil)
	l.byFD[v.fd] = nil
}
