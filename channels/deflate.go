package channels

import (
	"bytes"
	"compress/flate"
	"net/http"
	"strings"
	"sync"
)

// Presence is the one thing a room of N viewers sends N² of: every
// newcomer's presence_state lists everyone, and every diff goes to
// everyone. Its JSON repeats itself (the same keys, a few devices, names
// of one shape), so a websocket client that offers permessage-deflate
// (RFC 7692: browsers and Node's ws do) gets its presence frames
// compressed. Each payload is compressed once, when it is built, and the
// same bytes go to every such client: the extension is negotiated
// without context takeover (gorilla's Upgrader does so), so a message's
// compression depends on nothing sent before it.
//
// A frame's head ([join_ref, ref, topic, event,) differs between
// recipients: it goes in front of the shared bytes as a stored (not
// compressed) deflate block, which a decompressor reads like any other.
// Other frames are sent as they are, which the extension allows.

// deflateMin is the smallest presence payload worth compressing: below
// it, the compressed message would hardly be shorter.
const deflateMin = 512

// offersDeflate reports whether the websocket upgrade r offers
// permessage-deflate, which the Upgrader (EnableCompression) then
// accepts. It reads the header as gorilla does: the first token of each
// comma-separated extension.
func offersDeflate(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Extensions") {
		for ext := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.TrimSpace(name) == "permessage-deflate" {
				return true
			}
		}
	}
	return false
}

// deflaters are flate writers, reused: each holds about a megabyte.
var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed) // a valid level: no error
	return w
}}

// deflateTail compresses payload and the "]" that ends its frame, as the
// end of a permessage-deflate message: raw deflate blocks, flushed, less
// the 00 00 ff ff that the receiver puts back (RFC 7692 section 7.2.1).
func deflateTail(payload []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(payload)/4 + 64)
	w := deflaters.Get().(*flate.Writer)
	w.Reset(&out)
	// Writes to a bytes.Buffer do not fail.
	_, _ = w.Write(payload)
	_, _ = w.Write(closeBracket)
	_ = w.Flush()
	deflaters.Put(w)
	return bytes.TrimSuffix(out.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// appendStoredBlock appends b as a stored, not final, deflate block
// (RFC 1951 section 3.2.4): a byte of block header, then the length and
// its complement. b is a frame's head, far below the block's 65,535
// bytes.
func appendStoredBlock(dst, b []byte) []byte {
	n := uint16(len(b))
	dst = append(dst, 0, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
	return append(dst, b...)
}
