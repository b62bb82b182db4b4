package main

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// The receive loop's arrival time is the kernel's, not the time it reads:
// bytes left 50 ms in the socket arrived 50 ms before they are read.
func TestArrivalIsWhenTheKernelQueued(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	raw, err := client.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
		t.Fatal(err)
	}

	buf, oob := make([]byte, 64), make([]byte, syscall.CmsgSpace(16))
	var n, oobn int
	recv := func() {
		t.Helper()
		for { // the socket is non-blocking
			n, oobn, _, _, err = syscall.Recvmsg(fd, buf, oob, 0)
			if err != syscall.EAGAIN {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err != nil || n == 0 {
			t.Fatalf("recvmsg: %q, %v", buf[:n], err)
		}
	}
	// The kernel turns receive timestamps on in the background (a static
	// key flipped by a work queue): until then, segments arrive without
	// them. Wait until one comes with its timestamp.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := server.Write([]byte("w")); err != nil {
			t.Fatal(err)
		}
		recv()
		if arrival(oob[:oobn], 0) != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the kernel attached no receive timestamp in 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	sent := time.Now().UnixNano()
	if _, err := server.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	recv()
	if string(buf[:n]) != "hello" {
		t.Fatalf("recvmsg: %q, %v", buf[:n], err)
	}
	read := time.Now().UnixNano()
	got := arrival(oob[:oobn], read)
	if got < sent || read-got < int64(40*time.Millisecond) {
		t.Fatalf("arrival %v after the write and %v before the read; want it at the write, 50 ms before the read",
			time.Duration(got-sent), time.Duration(read-got))
	}
	if arrival(nil, read) != read {
		t.Fatal("without a control message, arrival is not the fallback")
	}
}
