package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serverFrame is one unmasked, final frame as a server writes it.
func serverFrame(op byte, payload []byte) []byte {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// annotation is a new_annotation push of id sent at sent, padded to at
// least size bytes.
func annotation(id, sent int64, size int) []byte {
	body := "t=" + strconv.FormatInt(sent, 10)
	msg := `[null,null,"videos:1","new_annotation",{"id":` + strconv.FormatInt(id, 10) + `,"body":"` + body
	if pad := size - len(msg) - len(`","at":0}]`); pad > 0 {
		msg += " " + strings.Repeat("x", pad-1)
	}
	return []byte(msg + `","at":0}]`)
}

func presenceNoise(size int) []byte {
	msg := `[null,null,"videos:1","presence_diff",{"joins":{"u1":{"metas":[{"phx_ref":"` + strings.Repeat("r", max(0, size-100)) + `"}]}},"leaves":{}}]`
	return []byte(msg)
}

// TestFeedEverySplit feeds a stream of several frames (7-bit and 16-bit
// lengths, noise, an empty frame, a pong) cut at every point, and byte by
// byte: the annotations are recorded once each, in order, whatever the
// cut.
func TestFeedEverySplit(t *testing.T) {
	var stream []byte
	var want []int64
	sent := time.Now().UnixNano()
	for i, size := range []int{0, 300, 0, 126, 5000, 125, 0} {
		id := int64(i + 1)
		stream = append(stream, serverFrame(opText, annotation(id, sent, size))...)
		want = append(want, id)
		switch i {
		case 1:
			stream = append(stream, serverFrame(opText, presenceNoise(500))...)
		case 3:
			stream = append(stream, serverFrame(opPong, []byte("p"))...)
			stream = append(stream, serverFrame(opText, nil)...)
		case 4:
			stream = append(stream, serverFrame(opBinary, presenceNoise(90))...)
		}
	}
	if !bytes.Contains(stream, []byte{0x81, 126}) {
		t.Fatal("no 16-bit length in the stream")
	}
	check := func(t *testing.T, v *viewer) {
		t.Helper()
		if !slices.Equal(v.ids, want) {
			t.Fatalf("ids %v, want %v", v.ids, want)
		}
		for _, l := range v.lat {
			if l < 0 || l > int64(time.Minute) {
				t.Fatalf("latency %v", time.Duration(l))
			}
		}
		if v.readErr != nil || len(v.pending) != 0 {
			t.Fatalf("readErr %v, %d bytes pending", v.readErr, len(v.pending))
		}
	}
	now := readNow()
	for cut := 0; cut <= len(stream); cut++ {
		v := &viewer{}
		// Both halves from one scratch buffer, reused as the receiver does.
		scratch := make([]byte, len(stream))
		n := copy(scratch, stream[:cut])
		if !v.feed(scratch[:n], now) {
			t.Fatalf("cut %d: first half: %v", cut, v.readErr)
		}
		n = copy(scratch, stream[cut:])
		if !v.feed(scratch[:n], now) {
			t.Fatalf("cut %d: second half: %v", cut, v.readErr)
		}
		check(t, v)
	}
	v := &viewer{}
	for i := range stream {
		if !v.feed([]byte{stream[i]}, now) {
			t.Fatalf("byte %d: %v", i, v.readErr)
		}
	}
	check(t, v)
}

func TestParseFrame(t *testing.T) {
	big := bytes.Repeat([]byte("y"), 70000)
	f := serverFrame(opText, big)
	if f[1] != 127 {
		t.Fatalf("length byte %d, want 127", f[1])
	}
	for _, cut := range []int{0, 1, 2, 9, 10, len(f) - 1} {
		if _, _, _, n, err := parseFrame(f[:cut], false); n != 0 || err != nil {
			t.Fatalf("cut %d: n %d, err %v", cut, n, err)
		}
	}
	op, _, p, n, err := parseFrame(append(f, 0x81), false)
	if op != opText || !bytes.Equal(p, big) || n != len(f) || err != nil {
		t.Fatalf("op %d, %d bytes, n %d, err %v", op, len(p), n, err)
	}

	for name, b := range map[string][]byte{
		"continuation": {0x80, 1, 'x'},
		"not final":    {0x01, 1, 'x'},
		"masked":       {0x81, 0x81, 1, 2, 3, 4, 'x'},
		"reserved":     {0xc1, 1, 'x'},
		"long ping":    append([]byte{0x89, 126, 0, 126}, make([]byte, 126)...),
		"opcode 3":     {0x83, 0},
	} {
		if _, _, _, _, err := parseFrame(b, false); err == nil {
			t.Errorf("%s: no error", name)
		} else if name == "continuation" && !errors.Is(err, errFragmented) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// A close frame ends the socket, with its status.
	v := &viewer{}
	if v.feed(serverFrame(opText, nil), receipt{}); v.readErr != nil {
		t.Fatal(v.readErr)
	}
	v.conn = discardConn{}
	if v.feed(serverFrame(opClose, []byte{0x03, 0xe8, 'b', 'y', 'e'}), receipt{}) {
		t.Fatal("close frame: still reading")
	}
	var ce *closeError
	if !errors.As(v.readErr, &ce) || ce.code != 1000 || ce.reason != "bye" {
		t.Fatalf("readErr %v", v.readErr)
	}
}

// discardConn takes the viewer's writes (a close frame's answer).
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
