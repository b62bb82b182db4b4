package main

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Viewers offer permessage-deflate (RFC 7692) as browsers do, and inflate
// the messages the server sends compressed. Neither side keeps a context
// between messages (the server negotiates no context takeover), so one
// decompressor serves any viewer's message.

// inflaters are decompressors, reused: each holds a 32 KiB window.
var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// deflateEnd is what the sender took off a compressed message's end.
var deflateEnd = []byte{0, 0, 0xff, 0xff}

// maxInflated bounds a message once inflated.
const maxInflated = maxFrame

// inflate decompresses one message's payload p. With headOnly, it first
// inflates the message's first frameHead bytes and stops there when
// headOnly says they are all that is needed: out is then that head, and
// whole is false. A viewer only counts its presence frames, the largest
// it receives (a crowded video's presence_state is about 1 MB of JSON):
// their event name lies in the head, and the rest need not be inflated.
func inflate(p []byte, headOnly func(head []byte) bool) (out []byte, whole bool, err error) {
	r := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(r)
	if err := r.(flate.Resetter).Reset(io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateEnd)), nil); err != nil {
		return nil, false, err
	}
	var head [frameHead]byte
	n, err := io.ReadFull(r, head[:])
	if n == len(head) && headOnly != nil && headOnly(head[:]) {
		return head[:], false, nil
	}
	buf := bytes.NewBuffer(make([]byte, 0, 4*len(p)+64))
	buf.Write(head[:n])
	if err == nil {
		_, err = buf.ReadFrom(io.LimitReader(r, maxInflated+1-int64(n)))
	}
	// The message ends with a flush, not with a final block: the reader
	// runs out of input there.
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("websocket: inflate: %w", err)
	}
	if buf.Len() > maxInflated {
		return nil, false, fmt.Errorf("websocket: a message inflates past %d bytes", maxInflated)
	}
	return buf.Bytes(), true, nil
}

// parse reads the frame at the start of b as parseFrame does, and
// inflates a compressed message: p is then a buffer of its own. Of a
// compressed presence frame (onlyCounted), p is only the head: all that
// onMessage reads of it.
func (v *viewer) parse(b []byte) (op byte, p []byte, n int, err error) {
	op, compressed, p, n, err := parseFrame(b, v.deflate)
	if err != nil || n == 0 || !compressed {
		return op, p, n, err
	}
	if p, _, err = inflate(p, onlyCounted); err != nil {
		return 0, nil, 0, err
	}
	return op, p, n, nil
}
