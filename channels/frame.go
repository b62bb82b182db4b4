package channels

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Limits on the parts of an inbound frame.
const (
	maxRefLen   = 64
	maxTopicLen = 128
	maxEventLen = 64
)

// inbound is a decoded client frame. Empty refs stand for null.
type inbound struct {
	joinRef, ref string
	topic, event string
	payload      json.RawMessage
}

// decodeFrame reads [join_ref, ref, topic, event, payload]. Its errors are
// clientErrors that say what is wrong.
func decodeFrame(data []byte) (inbound, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil {
		return inbound{}, refuse("malformed message: not a JSON array")
	}
	if len(parts) != 5 {
		return inbound{}, refuse("malformed message: expected [join_ref, ref, topic, event, payload]")
	}
	var f inbound
	var ok bool
	if f.joinRef, ok = optString(parts[0], maxRefLen); !ok {
		return inbound{}, refuse("malformed message: join_ref must be a short string or null")
	}
	if f.ref, ok = optString(parts[1], maxRefLen); !ok {
		return inbound{}, refuse("malformed message: ref must be a short string or null")
	}
	if f.topic, ok = optString(parts[2], maxTopicLen); !ok || f.topic == "" {
		return inbound{}, refuse("malformed message: topic must be a non-empty string")
	}
	if f.event, ok = optString(parts[3], maxEventLen); !ok || f.event == "" {
		return inbound{}, refuse("malformed message: event must be a non-empty string")
	}
	f.payload = bytes.TrimSpace(parts[4])
	if len(f.payload) == 0 || f.payload[0] != '{' {
		return inbound{}, refuse("malformed message: payload must be an object")
	}
	return f, nil
}

// optString reads a JSON string of at most max bytes, or null ("").
func optString(raw json.RawMessage, max int) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return "", true
	}
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || len(s) > max {
		return "", false
	}
	return s, true
}

// peekFrame reads the refs and topic of a frame too large to handle, so
// that its refusal can be addressed; ok is false when it cannot.
func peekFrame(data []byte) (f inbound, ok bool) {
	var parts []json.RawMessage
	if json.Unmarshal(data, &parts) != nil || len(parts) != 5 {
		return f, false
	}
	var ok1, ok2, ok3 bool
	f.joinRef, ok1 = optString(parts[0], maxRefLen)
	f.ref, ok2 = optString(parts[1], maxRefLen)
	f.topic, ok3 = optString(parts[2], maxTopicLen)
	return f, ok1 && ok2 && ok3 && f.topic != ""
}

// peekBinaryPush reads the header of a binary frame as phoenix.js's
// serializer writes a push with an ArrayBuffer payload: a kind byte (0),
// the byte lengths of join_ref, ref, topic and event, then those four
// strings and the payload. It is read only to address a refusal.
func peekBinaryPush(data []byte) (f inbound, ok bool) {
	const kindPush, header = 0, 5
	if len(data) < header || data[0] != kindPush {
		return f, false
	}
	field := func(i int, rest []byte) (string, []byte, bool) {
		n := int(data[i])
		if n > len(rest) || !utf8.Valid(rest[:n]) {
			return "", nil, false
		}
		return string(rest[:n]), rest[n:], true
	}
	rest := data[header:]
	var ok1, ok2, ok3, ok4 bool
	f.joinRef, rest, ok1 = field(1, rest)
	if ok1 {
		f.ref, rest, ok2 = field(2, rest)
	}
	if ok2 {
		f.topic, rest, ok3 = field(3, rest)
	}
	if ok3 {
		f.event, _, ok4 = field(4, rest)
	}
	ok = ok4 && f.topic != "" && len(f.joinRef) <= maxRefLen && len(f.ref) <= maxRefLen && len(f.topic) <= maxTopicLen
	return f, ok
}

// outMsg is one frame to send. Its payload is shared between the
// recipients of a broadcast and never modified.
type outMsg struct {
	joinRef, ref string // "" is null
	topic, event string
	payload      []byte
	op           byte // 0: a Phoenix frame; opPong: a pong with payload
	// wire, if set, is the whole websocket message, encoded once for the
	// recipients of a broadcast that share a join_ref, and shared like
	// payload; the other fields are then only for the record.
	wire []byte
	// deflated, if set, is payload and the closing "]" compressed
	// (deflate.go), shared like payload, for a recipient that negotiated
	// permessage-deflate: the message is then sent compressed.
	deflated []byte
}

// body is what follows m's head on the wire: its payload, or its
// compressed tail.
func (m *outMsg) body() []byte {
	if m.deflated != nil {
		return m.deflated
	}
	return m.payload
}

// broadcast encodes one broadcast for its recipients: the websocket
// message of each join_ref is encoded once and shared. Clients number
// their joins from a small counter, so most recipients share a few.
type broadcast struct {
	topic, event string
	payload      []byte
	wires        map[string][]byte
}

// to returns the message for a subscription joined with joinRef.
func (b *broadcast) to(joinRef string) outMsg {
	m := outMsg{joinRef: joinRef, topic: b.topic, event: b.event, payload: b.payload}
	if len(b.payload) > bigPayload {
		return m // written where it lies, see conn.writeBatch
	}
	w, ok := b.wires[joinRef]
	if !ok {
		if b.wires == nil {
			b.wires = make(map[string][]byte, 4)
		}
		w = appendWSFrame(make([]byte, 0, len(b.payload)+len(b.topic)+len(b.event)+len(joinRef)+32), &m)
		b.wires[joinRef] = w
	}
	m.wire = w
	return m
}

// Websocket opcodes that the writer sends itself.
const (
	opText = 0x1
	opPong = 0xA
)

// appendWSHead appends the websocket header of m and its frame up to its
// payload; the payload and "]" follow it on the wire, or, when m is sent
// compressed, m.deflated.
func appendWSHead(b []byte, m *outMsg) []byte {
	var pre [maxRefLen*2 + maxTopicLen + maxEventLen + 64]byte
	head := m.appendHead(pre[:0])
	if m.deflated != nil {
		b = appendWSHeader(b, rsv1|opText, storedHead+len(head)+len(m.deflated))
		return appendStoredBlock(b, head)
	}
	b = appendWSHeader(b, opText, len(head)+len(m.payload)+1)
	return append(b, head...)
}

// rsv1 marks a compressed message (RFC 7692 section 6).
const rsv1 = 0x40

// storedHead is the size of a stored deflate block's header.
const storedHead = 5

// appendWSHeader appends the header of a final frame of opcode op (and
// rsv1) with n bytes of payload.
func appendWSHeader(b []byte, op byte, n int) []byte {
	switch {
	case n < 126:
		return append(b, 0x80|op, byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(b, 0x80|op, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0x80|op, 127), uint64(n))
	}
}

// appendWSFrame appends m as one unmasked, unfragmented websocket message
// (RFC 6455 section 5.2), as a server sends it.
func appendWSFrame(b []byte, m *outMsg) []byte {
	if m.wire != nil {
		return append(b, m.wire...)
	}
	if m.op == opPong {
		b = append(b, 0x80|opPong, byte(len(m.payload)))
		return append(b, m.payload...)
	}
	if m.deflated != nil {
		b = appendWSHead(b, m)
		return append(b, m.deflated...)
	}
	// Reserve the longest header, encode, then close the gap.
	start := len(b)
	b = append(b, make([]byte, 10)...)
	b = m.appendTo(b)
	n := len(b) - start - 10
	var hdr [10]byte
	hdr[0] = 0x80 | opText
	h := 2
	switch {
	case n < 126:
		hdr[1] = byte(n)
	case n < 1<<16:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
		h = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
		h = 10
	}
	copy(b[start:], hdr[:h])
	copy(b[start+h:], b[start+10:])
	return b[:start+h+n]
}

// appendTo encodes m as [join_ref, ref, topic, event, payload].
func (m *outMsg) appendTo(b []byte) []byte {
	b = m.appendHead(b)
	b = append(b, m.payload...)
	return append(b, ']')
}

// appendHead encodes m up to its payload: [join_ref, ref, topic, event,
func (m *outMsg) appendHead(b []byte) []byte {
	b = append(b, '[')
	b = appendOptString(b, m.joinRef)
	b = append(b, ',')
	b = appendOptString(b, m.ref)
	b = append(b, ',')
	b = appendString(b, m.topic)
	b = append(b, ',')
	b = appendString(b, m.event)
	return append(b, ',')
}

func appendOptString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
		}
	}
	return append(b, '"')
}

// Payloads used as is; never modified.
var (
	okEmpty  = []byte(`{"status":"ok","response":{}}`)
	emptyObj = []byte(`{}`)
)

// replyError is the payload of a phx_reply refusing with reason.
func replyError(reason string) []byte {
	b := append([]byte(`{"status":"error","response":{"reason":`), appendString(nil, reason)...)
	return append(b, "}}"...)
}

// errorPayload is the payload of a phx_error.
func errorPayload(reason string) []byte {
	b := append([]byte(`{"reason":`), appendString(nil, reason)...)
	return append(b, '}')
}

// replyOK wraps a response object in an ok reply.
func replyOK(response []byte) []byte {
	b := make([]byte, 0, len(response)+32)
	b = append(b, `{"status":"ok","response":`...)
	b = append(b, response...)
	return append(b, '}')
}

// parseID reads a topic's id part: a positive decimal without sign or
// leading zeros, so that one video has exactly one topic name.
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != s {
		return 0, false
	}
	return id, true
}
