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

// inflate decompresses one message's payload p.
func inflate(p []byte) ([]byte, error) {
	r := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(r)
	if err := r.(flate.Resetter).Reset(io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateEnd)), nil); err != nil {
		return nil, err
	}
	out := bytes.NewBuffer(make([]byte, 0, 4*len(p)+64))
	_, err := out.ReadFrom(io.LimitReader(r, maxInflated+1))
	// The message ends with a flush, not with a final block: the reader
	// runs out of input there.
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("websocket: inflate: %w", err)
	}
	if out.Len() > maxInflated {
		return nil, fmt.Errorf("websocket: a message inflates past %d bytes", maxInflated)
	}
	return out.Bytes(), nil
}

// parse reads the frame at the start of b as parseFrame does, and
// inflates a compressed message: p is then a buffer of its own.
func (v *viewer) parse(b []byte) (op byte, p []byte, n int, err error) {
	op, compressed, p, n, err := parseFrame(b, v.deflate)
	if err != nil || n == 0 || !compressed {
		return op, p, n, err
	}
	if p, err = inflate(p); err != nil {
		return 0, nil, 0, err
	}
	return op, p, n, nil
}
