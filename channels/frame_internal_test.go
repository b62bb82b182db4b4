package channels

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

func TestDecodeFrame(t *testing.T) {
	f, err := decodeFrame([]byte(`["1","2","videos:7","phx_join",{"last_seen_id":3}]`))
	if err != nil || f.joinRef != "1" || f.ref != "2" || f.topic != "videos:7" || f.event != "phx_join" || string(f.payload) != `{"last_seen_id":3}` {
		t.Fatalf("decode = %+v, %v", f, err)
	}
	f, err = decodeFrame([]byte(`[null,null,"phoenix","heartbeat",{}]`))
	if err != nil || f.joinRef != "" || f.ref != "" {
		t.Fatalf("null refs: %+v, %v", f, err)
	}
	for _, bad := range []string{
		``, `null`, `{}`, `[]`, `[1,2,3,4,5]`, `["1","2","t","e"]`, `["1","2","t","e",{},6]`,
		`["1","2","","e",{}]`, `["1","2","t","",{}]`, `["1","2","t","e","payload"]`, `["1","2","t","e",null]`,
		`["` + strings.Repeat("r", 65) + `","2","t","e",{}]`, `["1","2","` + strings.Repeat("t", 129) + `","e",{}]`,
		`["1","2","t","e",{}`, `["1",2,"t","e",{}]`,
	} {
		if _, err := decodeFrame([]byte(bad)); err == nil {
			t.Errorf("decodeFrame(%q) accepted", bad)
		} else if _, ok := err.(*clientError); !ok {
			t.Errorf("decodeFrame(%q) error %T is not for the client", bad, err)
		}
	}
}

// FuzzDecodeFrame: whatever arrives, decoding neither panics nor accepts
// what the encoder could not send back.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`["1","1","videos:1","phx_join",{}]`))
	f.Add([]byte(`[null,"5","phoenix","heartbeat",{}]`))
	f.Add([]byte(`["1",null,"\u0000","x",{"a":[1,2]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := decodeFrame(data)
		if err != nil {
			return
		}
		m := outMsg{joinRef: in.joinRef, ref: in.ref, topic: in.topic, event: in.event, payload: in.payload}
		back, err := decodeFrame(m.appendTo(nil))
		if err != nil || back.topic != in.topic || back.event != in.event || back.joinRef != in.joinRef || back.ref != in.ref {
			t.Fatalf("round trip of %q: %+v, %v", data, back, err)
		}
	})
}

func TestAppendStringMatchesJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("aZ09 \"\\/\n\t\x00\x1f\x7f<>&é€😀\u2028")
	for range 2000 {
		rs := make([]rune, r.IntN(20))
		for i := range rs {
			rs[i] = alphabet[r.IntN(len(alphabet))]
		}
		s := string(rs)
		var back string
		if err := json.Unmarshal(appendString(nil, s), &back); err != nil || back != s {
			t.Fatalf("appendString(%q) = %s: decodes to %q, %v", s, appendString(nil, s), back, err)
		}
	}
	var back string
	if err := json.Unmarshal(appendString(nil, "bad\xffutf8"), &back); err != nil || back != "bad\ufffdutf8" {
		t.Fatalf("invalid UTF-8: %q, %v", back, err)
	}
}

func TestOutMsgEncoding(t *testing.T) {
	m := outMsg{ref: "5", topic: "phoenix", event: "phx_reply", payload: okEmpty}
	if got := string(m.appendTo(nil)); got != `[null,"5","phoenix","phx_reply",{"status":"ok","response":{}}]` {
		t.Fatalf("encoded %s", got)
	}
	if got := string(replyError(`say "why"`)); got != `{"status":"error","response":{"reason":"say \"why\""}}` {
		t.Fatalf("replyError = %s", got)
	}
}

func TestParseID(t *testing.T) {
	for s, want := range map[string]int64{"1": 1, "42": 42, "9223372036854775807": 1<<63 - 1} {
		if got, ok := parseID(s); !ok || got != want {
			t.Errorf("parseID(%q) = %d, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "0", "-1", "+1", "01", "1.0", "1e2", " 1", "9223372036854775808", "x"} {
		if _, ok := parseID(s); ok {
			t.Errorf("parseID(%q) accepted", s)
		}
	}
}

func viewerEvent(rev uint64, typ, ref string, user int64) *eventstore.RecordedEvent {
	var data []byte
	if typ == domain.TypeViewerJoined {
		data, _ = json.Marshal(domain.ViewerJoined{UserID: user, Username: "u", ConnectionID: ref, Node: "n", At: time.Unix(int64(rev), 0)})
	} else {
		data, _ = json.Marshal(domain.ViewerLeft{UserID: user, ConnectionID: ref, Node: "n", Reason: "left"})
	}
	return &eventstore.RecordedEvent{Type: typ, Revision: rev, Data: data}
}

func TestPresenceFoldAndCoalescing(t *testing.T) {
	p := newPresence()
	p.apply(t.Context(), nil, viewerEvent(0, domain.TypeViewerJoined, "a1", 1))
	p.publishAll()
	if got := string(p.statePayload()); !strings.Contains(got, `"1":{"metas":[{"phx_ref":"a1"`) {
		t.Fatalf("state = %s", got)
	}
	// Within one window: b joins, c joins and leaves, a1 leaves, a2 joins.
	p.apply(t.Context(), nil, viewerEvent(1, domain.TypeViewerJoined, "b1", 2))
	p.apply(t.Context(), nil, viewerEvent(2, domain.TypeViewerJoined, "c1", 3))
	p.apply(t.Context(), nil, viewerEvent(3, domain.TypeViewerLeft, "c1", 3))
	p.apply(t.Context(), nil, viewerEvent(4, domain.TypeViewerLeft, "a1", 1))
	p.apply(t.Context(), nil, viewerEvent(5, domain.TypeViewerJoined, "a2", 1))
	if changed, _ := p.apply(t.Context(), nil, viewerEvent(6, domain.TypeViewerLeft, "a1", 1)); changed {
		t.Fatal("a second leave of one viewing changed presence")
	}
	var d struct {
		Joins, Leaves map[string]metaList
	}
	if err := json.Unmarshal(p.diff(), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Joins) != 2 || d.Joins["2"].Metas[0].PhxRef != "b1" || d.Joins["1"].Metas[0].PhxRef != "a2" {
		t.Fatalf("joins = %+v", d.Joins)
	}
	if len(d.Leaves) != 1 || d.Leaves["1"].Metas[0].PhxRef != "a1" {
		t.Fatalf("leaves = %+v", d.Leaves)
	}
	if p.diff() != nil {
		t.Fatal("a second diff without changes is not empty")
	}
	if got := string(p.statePayload()); strings.Contains(got, "a1") || !strings.Contains(got, "a2") || strings.Contains(got, "c1") {
		t.Fatalf("state after diff = %s", got)
	}
}

func TestNonNegInt(t *testing.T) {
	for raw, want := range map[string]int64{"0": 0, "7": 7, " 12 ": 12} {
		if got, ok := nonNegInt(json.RawMessage(raw)); !ok || got != want {
			t.Errorf("nonNegInt(%s) = %d, %v", raw, got, ok)
		}
	}
	for _, raw := range []string{"", "-1", "1.5", "1.0", "1e3", `"3"`, "true", "null", "{}", "99999999999999999999"} {
		if _, ok := nonNegInt(json.RawMessage(raw)); ok {
			t.Errorf("nonNegInt(%s) accepted", raw)
		}
	}
}

func TestAppendWSFrameLengths(t *testing.T) {
	for _, n := range []int{0, 1, 100, 125, 126, 127, 1000, 65535, 65536, 200000} {
		m := outMsg{joinRef: "1", topic: "videos:1", event: "new_annotation", payload: []byte(`{"body":"` + strings.Repeat("x", n) + `"}`)}
		want := m.appendTo(nil)
		got := appendWSFrame([]byte("prefix"), &m)
		if split := append(appendWSHead([]byte("prefix"), &m), append(m.payload, ']')...); string(split) != string(got) {
			t.Fatalf("%d: the header and head written before the payload differ from the whole frame", n)
		}
		if string(got[:6]) != "prefix" {
			t.Fatalf("%d: clobbered what came before", n)
		}
		f := got[6:]
		if f[0] != 0x81 {
			t.Fatalf("%d: first byte %#x, want FIN+text", n, f[0])
		}
		size, h := payloadLen(f)
		if size != len(want) || string(f[h:]) != string(want) {
			t.Fatalf("%d: header says %d bytes, frame has %d, want %d", n, size, len(f)-h, len(want))
		}
	}
	pong := appendWSFrame(nil, &outMsg{op: opPong, payload: []byte("hi")})
	if string(pong) != "\x8a\x02hi" {
		t.Fatalf("pong %q", pong)
	}
}

// A broadcast's messages are byte for byte those encoded one by one, and
// recipients with the same join_ref share one encoding.
func TestBroadcastEncodesOncePerJoinRef(t *testing.T) {
	b := broadcast{topic: "videos:7", event: "new_annotation", payload: []byte(`{"id":1,"body":"\"hi\""}`)}
	seen := map[string]*byte{}
	for _, ref := range []string{"1", "3", "1", "", "3", "1"} {
		m := b.to(ref)
		plain := m
		plain.wire = nil
		if want := appendWSFrame(nil, &plain); string(m.wire) != string(want) {
			t.Fatalf("join_ref %q: wire %q, want %q", ref, m.wire, want)
		}
		if p, ok := seen[ref]; ok && p != &m.wire[0] {
			t.Fatalf("join_ref %q encoded twice", ref)
		}
		seen[ref] = &m.wire[0]
	}
	if len(b.wires) != 3 {
		t.Fatalf("%d encodings for 3 join_refs", len(b.wires))
	}
	big := broadcast{topic: "videos:7", event: "presence_diff", payload: []byte(`{"joins":{` + strings.Repeat(" ", bigPayload) + `},"leaves":{}}`)}
	if m := big.to("1"); m.wire != nil {
		t.Fatal("a large payload was copied into a wire message; it is written where it lies")
	}
}

// A message sent compressed inflates, as a permessage-deflate client
// inflates it (the 00 00 ff ff the sender left off put back), to the
// frame sent plain; its header has RSV1 and the right length, and the
// written-in-place form (head, then the shared tail) is the same bytes.
func TestDeflatedFrameInflatesToThePlainOne(t *testing.T) {
	for _, n := range []int{0, 100, 70000} {
		payload := []byte(`{"joins":{"1":{"metas":[` + strings.Repeat(`{"phx_ref":"x","device":"desktop"},`, n/32) + `{}]}}}`)
		m := outMsg{joinRef: "3", topic: "videos:1", event: "presence_diff", payload: payload}
		want := m.appendTo(nil)
		m.deflated = deflateTail(payload)
		got := appendWSFrame([]byte("prefix"), &m)
		if split := append(appendWSHead([]byte("prefix"), &m), m.deflated...); string(split) != string(got) {
			t.Fatalf("%d: the head written before the shared tail differs from the whole frame", n)
		}
		f := got[6:]
		if f[0] != 0x80|rsv1|opText {
			t.Fatalf("%d: first byte %#x, want FIN+RSV1+text", n, f[0])
		}
		size, h := payloadLen(f)
		if size != len(f)-h {
			t.Fatalf("%d: header says %d bytes, frame has %d", n, size, len(f)-h)
		}
		r := flate.NewReader(io.MultiReader(bytes.NewReader(f[h:]), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
		var out bytes.Buffer
		if _, err := out.ReadFrom(r); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%d: inflate: %v", n, err)
		}
		if out.String() != string(want) {
			t.Fatalf("%d: inflated to %q, want %q", n, out.Bytes()[:min(out.Len(), 80)], want[:min(len(want), 80)])
		}
		if n > 1000 && len(f) > len(want)/4 {
			t.Errorf("%d: %d bytes compressed from %d", n, len(f), len(want))
		}
	}
}

func TestOffersDeflate(t *testing.T) {
	for header, want := range map[string]bool{
		"":                   false,
		"permessage-deflate": true,
		"permessage-deflate; client_max_window_bits":                              true,
		"x-webkit-deflate-frame, permessage-deflate ; server_no_context_takeover": true,
		"permessage-deflater":   false,
		"x; permessage-deflate": false,
	} {
		r := &http.Request{Header: http.Header{}}
		if header != "" {
			r.Header.Set("Sec-WebSocket-Extensions", header)
		}
		if got := offersDeflate(r); got != want {
			t.Errorf("%q: %v, want %v", header, got, want)
		}
	}
}

// payloadLen reads the payload length of the server frame f (unmasked)
// and the length of its head.
func payloadLen(f []byte) (size, head int) {
	switch f[1] {
	case 126:
		return int(binary.BigEndian.Uint16(f[2:])), 4
	case 127:
		return int(binary.BigEndian.Uint64(f[2:])), 10
	}
	return int(f[1]), 2
}
