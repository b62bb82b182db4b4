package main

// A minimal websocket client for the viewers (RFC 6455, client side): it
// dials, upgrades, writes masked frames, and parses the server's frames
// from the viewer's own buffer, so that one epoll loop can read every
// viewer's socket (receive). Posters keep gorilla/websocket.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"
)

// Frame opcodes.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// maxFrame bounds a server frame; a crowded video's presence_state is the
// largest, well below this.
const maxFrame = 64 << 20

// errFragmented: the server never fragments its messages, so vlload does
// not reassemble them.
var errFragmented = errors.New("websocket: fragmented message (continuation frame or FIN unset): not supported by vlload's client")

// closeError is a close frame received from the server.
type closeError struct {
	code   int // 1005 when the frame had no status
	reason string
}

func (e *closeError) Error() string {
	return "websocket: close " + strconv.Itoa(e.code) + " " + e.reason
}

// dialViewer connects a viewer with our own client and joins topic; it
// returns once the join reply arrived. Frames read after the reply stay in
// v.pending for the receiver.
func dialViewer(ctx context.Context, base, token, topic string) (*viewer, error) {
	return dialSocket(ctx, base, token, topic, func(v *viewer) error {
		if err := v.write(joinFrame(topic)); err != nil {
			return err
		}
		if err := v.awaitJoin(); err != nil {
			return fmt.Errorf("join: %w", err)
		}
		return nil
	})
}

// dialSocket connects a socket with our own client, upgrades it and runs
// start on it, within 30 s or until ctx ends.
func dialSocket(ctx context.Context, base, token, topic string, start func(v *viewer) error) (*viewer, error) {
	u, err := socketURL(base, token)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("viewers connect with plain ws only (the epoll receiver reads the TCP socket itself), not %s", u.Scheme)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	d := net.Dialer{Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	v := &viewer{conn: conn, topic: topic, fd: -1, replies: map[string]int64{}, sentAt: map[string]int64{}, replyC: make(chan struct{}, 1)}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := v.handshake(u.Host, u.RequestURI()); err != nil {
		conn.Close()
		return nil, err
	}
	if err := start(v); err != nil {
		conn.Close()
		return nil, err
	}
	if !stop() && ctx.Err() != nil {
		conn.Close()
		return nil, ctx.Err()
	}
	_ = conn.SetDeadline(time.Time{})
	return v, nil
}

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// handshake sends the HTTP/1.1 upgrade request and checks the 101 reply.
// Bytes after the reply's header stay in v.pending.
func (v *viewer) handshake(host, uri string) error {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET " + uri + " HTTP/1.1\r\n" +
		"Host: " + host + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\n" +
		// As browsers do: the server may then compress its messages
		// (inflate.go).
		"Sec-WebSocket-Extensions: permessage-deflate\r\n" +
		"Sec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(v.conn, req); err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	var end int
	for {
		if i := bytes.Index(v.pending, []byte("\r\n\r\n")); i >= 0 {
			end = i + 4
			break
		}
		if len(v.pending) > 64<<10 {
			return errors.New("upgrade: response header too long")
		}
		if err := v.fill(); err != nil {
			return fmt.Errorf("upgrade: %w", err)
		}
	}
	lines := strings.Split(string(v.pending[:end-4]), "\r\n")
	v.pending = append(v.pending[:0], v.pending[end:]...)
	status := strings.Fields(lines[0])
	if len(status) < 2 || !strings.HasPrefix(status[0], "HTTP/1.") || status[1] != "101" {
		return fmt.Errorf("upgrade: %s", lines[0])
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	want := base64.StdEncoding.EncodeToString(sum[:])
	accepted := false
	for _, line := range lines[1:] {
		name, value, _ := strings.Cut(line, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, "Sec-WebSocket-Accept"):
			if value != want {
				return fmt.Errorf("upgrade: Sec-WebSocket-Accept %q, want %q", value, want)
			}
			accepted = true
		case strings.EqualFold(name, "Sec-WebSocket-Extensions"):
			ext, _, _ := strings.Cut(value, ";")
			if strings.TrimSpace(ext) != "permessage-deflate" {
				return fmt.Errorf("upgrade: extension %q, not offered", value)
			}
			v.deflate = true
		}
	}
	if !accepted {
		return errors.New("upgrade: no Sec-WebSocket-Accept")
	}
	return nil
}

// fill reads once from the socket (blocking) into v.pending.
func (v *viewer) fill() error {
	if cap(v.pending)-len(v.pending) < 4096 {
		v.pending = append(make([]byte, 0, max(8192, 2*cap(v.pending))), v.pending...)
	}
	n, err := v.conn.Read(v.pending[len(v.pending):cap(v.pending)])
	v.pending = v.pending[:len(v.pending)+n]
	if n > 0 {
		return nil
	}
	return err
}

// awaitJoin reads frames until the join reply; frames before it are
// dropped (the join's presence_state follows the reply), bytes after it
// stay in v.pending.
func (v *viewer) awaitJoin() error {
	for {
		op, p, n, err := v.parse(v.pending)
		if err != nil {
			return err
		}
		if n == 0 {
			if err := v.fill(); err != nil {
				return err
			}
			continue
		}
		switch op {
		case opText, opBinary:
			if isJoinReply(p[:min(len(p), frameHead)]) {
				ok := bytes.Contains(p, []byte(`"status":"ok"`))
				msg := string(p)
				v.pending = append(v.pending[:0], v.pending[n:]...)
				if !ok {
					return fmt.Errorf("refused: %s", msg)
				}
				return nil
			}
		case opClose:
			return closeErr(p)
		case opPing:
			if err := v.writeFrame(opPong, p); err != nil {
				return err
			}
		}
		v.pending = append(v.pending[:0], v.pending[n:]...)
	}
}

// writeFrame writes one masked, final frame.
func (v *viewer) writeFrame(op byte, payload []byte) error {
	b := make([]byte, 0, 14+len(payload))
	b = append(b, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], mrand.Uint32())
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range b[start:] {
		b[start+i] ^= key[i&3]
	}
	v.wmu.Lock()
	defer v.wmu.Unlock()
	_ = v.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := v.conn.Write(b)
	return err
}

// parseFrame reads the server frame at the start of b: its opcode, its
// payload (within b) and its length n in b. n is 0 when b does not hold a
// whole frame yet. With deflate (permessage-deflate negotiated), a data
// frame may be compressed: RSV1 set, and compressed true.
func parseFrame(b []byte, deflate bool) (op byte, compressed bool, payload []byte, n int, err error) {
	if len(b) < 2 {
		return 0, false, nil, 0, nil
	}
	compressed = deflate && b[0]&0x70 == rsv1 && b[0]&0x0f != opContinuation && b[0]&0x08 == 0
	if b[0]&0x70 != 0 && !compressed {
		return 0, false, nil, 0, errors.New("websocket: reserved bits set")
	}
	op, payload, n, err = parseFrameBody(b)
	return op, compressed, payload, n, err
}

// rsv1 marks a compressed message (RFC 7692 section 6).
const rsv1 = 0x40

// parseFrameBody reads the frame at the start of b past its first byte's
// reserved bits.
func parseFrameBody(b []byte) (op byte, payload []byte, n int, err error) {
	if b[1]&0x80 != 0 {
		return 0, nil, 0, errors.New("websocket: masked server frame")
	}
	op, fin := b[0]&0x0f, b[0]&0x80 != 0
	h, size := 2, uint64(b[1]&0x7f)
	switch size {
	case 126:
		if len(b) < 4 {
			return 0, nil, 0, nil
		}
		h, size = 4, uint64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		if len(b) < 10 {
			return 0, nil, 0, nil
		}
		h, size = 10, binary.BigEndian.Uint64(b[2:])
	}
	switch op {
	case opText, opBinary:
		if !fin {
			return 0, nil, 0, errFragmented
		}
	case opContinuation:
		return 0, nil, 0, errFragmented
	case opClose, opPing, opPong:
		if !fin || size > 125 {
			return 0, nil, 0, errors.New("websocket: bad control frame")
		}
	default:
		return 0, nil, 0, fmt.Errorf("websocket: unknown opcode %d", op)
	}
	if size > maxFrame {
		return 0, nil, 0, fmt.Errorf("websocket: frame of %d bytes", size)
	}
	if uint64(len(b)-h) < size {
		return 0, nil, 0, nil
	}
	n = h + int(size)
	return op, b[h:n], n, nil
}

func closeErr(p []byte) error {
	if len(p) < 2 {
		return &closeError{code: 1005}
	}
	return &closeError{code: int(binary.BigEndian.Uint16(p)), reason: string(p[2:])}
}

// feed parses the frames in data, read at now (unix nanoseconds), after
// the viewer's pending bytes, and records them. An incomplete frame at the
// end is kept in v.pending; data is copied there only then. feed returns
// false once the socket is finished with (close frame, or a protocol
// error), with v.readErr set.
func (v *viewer) feed(data []byte, at receipt) bool {
	b := data
	if len(v.pending) > 0 {
		v.pending = append(v.pending, data...)
		b = v.pending
	}
	for {
		op, p, n, err := v.parse(b)
		if err != nil {
			v.fail(err)
			return false
		}
		if n == 0 {
			break
		}
		b = b[n:]
		switch op {
		case opText, opBinary:
			v.onMessage(p, n, at)
		case opPing:
			_ = v.writeFrame(opPong, p)
		case opClose:
			// Answer as gorilla does, with the status received.
			_ = v.writeFrame(opClose, p[:min(len(p), 2)])
			v.fail(closeErr(p))
			return false
		}
	}
	switch {
	case len(b) == 0 && cap(v.pending) > 64<<10:
		v.pending = nil // do not keep a presence_state's room
	case len(v.pending) > 0: // b lies in v.pending
		v.pending = append(v.pending[:0], b...)
	default:
		v.pending = append(v.pending, b...)
	}
	return true
}

// fail records why the socket stopped being read.
func (v *viewer) fail(err error) {
	v.mu.Lock()
	v.readErr = err
	v.mu.Unlock()
}
