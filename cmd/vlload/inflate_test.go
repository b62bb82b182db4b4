package main

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// deflated is msg compressed as a server sends it (RFC 7692): flushed,
// without the flush's last four bytes. With corruptAfter > 0, only msg's
// first corruptAfter bytes are compressed, and what follows them is a
// block no inflater accepts.
func deflated(t testing.TB, msg []byte, corruptAfter int) []byte {
	t.Helper()
	var z bytes.Buffer
	w, err := flate.NewWriter(&z, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if corruptAfter > 0 {
		msg = msg[:corruptAfter]
	}
	_, _ = w.Write(msg)
	_ = w.Flush()
	if corruptAfter > 0 {
		// A block of the reserved type 3, then bytes that look compressed.
		return append(z.Bytes(), append([]byte{0x06}, bytes.Repeat([]byte{0x5a}, 4000)...)...)
	}
	return bytes.TrimSuffix(z.Bytes(), deflateEnd)
}

// compressedFrame is a server frame of msg compressed (RSV1 set).
func compressedFrame(t testing.TB, msg []byte, corruptAfter int) []byte {
	f := serverFrame(opText, deflated(t, msg, corruptAfter))
	f[0] |= rsv1
	return f
}

func presenceState(viewers int) []byte {
	return []byte(`[null,null,"videos:1","presence_state",{"1":{"metas":[` + strings.Repeat(`{"phx_ref":"r","device":"desktop"},`, viewers) + `{}]}}]`)
}

// A compressed message (RSV1) is inflated before it is recorded, read a
// byte at a time or whole; without permessage-deflate negotiated, RSV1
// is an error.
func TestFeedInflatesCompressedMessages(t *testing.T) {
	f := compressedFrame(t, presenceState(200), 0)
	stream := append(append([]byte(nil), f...), serverFrame(opText, annotation(1, 5, 0))...)

	for _, step := range []int{1, len(stream)} {
		v := &viewer{deflate: true}
		for i := 0; i < len(stream); i += step {
			if !v.feed(stream[i:min(i+step, len(stream))], receipt{}) {
				t.Fatalf("step %d: %v", step, v.readErr)
			}
		}
		if v.presence.frames != 1 || v.presence.wire != int64(len(f)) {
			t.Fatalf("step %d: presence %+v, want 1 frame of %d bytes on the wire", step, v.presence, len(f))
		}
		if len(v.ids) != 1 || v.ids[0] != 1 {
			t.Fatalf("step %d: ids %v after the compressed frame", step, v.ids)
		}
	}
	if v := (&viewer{}); v.feed(f, receipt{}) || v.readErr == nil {
		t.Fatal("RSV1 without permessage-deflate: no error")
	}
}

// A compressed presence frame is inflated only as far as its head: one
// whose compressed stream is corrupt past its first 1,000 bytes is counted,
// with its bytes on the wire, and what follows it is read.
func TestCompressedPresenceCountedFromItsHead(t *testing.T) {
	state := presenceState(2000)
	bad := deflated(t, state, 1000)
	if _, _, err := inflate(bad, nil); err == nil {
		t.Fatal("the corrupt presence_state inflates whole: the test proves nothing")
	}
	head, whole, err := inflate(bad, onlyCounted)
	if err != nil || whole || !bytes.Equal(head, state[:frameHead]) {
		t.Fatalf("inflate with onlyCounted: %q, whole %v, %v; want the head %q", head, whole, err, state[:frameHead])
	}
	f := serverFrame(opText, bad)
	f[0] |= rsv1
	stream := append(append(append([]byte(nil), f...), compressedFrame(t, presenceNoise(3000), 0)...), serverFrame(opText, annotation(1, 5, 0))...)
	v := &viewer{deflate: true}
	if !v.feed(stream, receipt{}) {
		t.Fatalf("feed: %v", v.readErr)
	}
	if want := int64(len(stream) - len(serverFrame(opText, annotation(1, 5, 0)))); v.presence.frames != 2 || v.presence.wire != want {
		t.Fatalf("presence %+v, want 2 frames of %d bytes on the wire", v.presence, want)
	}
	if len(v.ids) != 1 || v.ids[0] != 1 {
		t.Fatalf("ids %v after the presence frames", v.ids)
	}
}

// Any other compressed message is inflated whole: a reply to a post whose
// id lies past the head is recorded, a large annotation is, and one whose
// tail is corrupt is an error.
func TestCompressedMessagesInflatedWhole(t *testing.T) {
	reply := []byte(`["1","p7","videos:1","phx_reply",{"status":"ok","response":{"pad":"` + strings.Repeat("x", 2000) + `","id":42}}]`)
	v := &viewer{deflate: true, replies: map[string]int64{}, sentAt: map[string]int64{}, replyC: make(chan struct{}, 1)}
	stream := append(compressedFrame(t, reply, 0), compressedFrame(t, annotation(3, 5, 5000), 0)...)
	if !v.feed(stream, receipt{}) {
		t.Fatalf("feed: %v", v.readErr)
	}
	if v.replies["p7"] != 42 || len(v.ids) != 1 || v.ids[0] != 3 || v.presence.frames != 0 {
		t.Fatalf("replies %v, ids %v, presence %+v; want p7 answered 42, id 3, no presence", v.replies, v.ids, v.presence)
	}
	v = &viewer{deflate: true, replies: map[string]int64{}, sentAt: map[string]int64{}, replyC: make(chan struct{}, 1)}
	if v.feed(compressedFrame(t, reply, 1000), receipt{}) || v.readErr == nil {
		t.Fatalf("a reply corrupt past its head: no error (replies %v)", v.replies)
	}
}

// Only a presence frame is counted from its head alone; a frame whose
// head also holds what onMessage reads first is read whole.
func TestOnlyCounted(t *testing.T) {
	for _, c := range []struct {
		msg  []byte
		want bool
	}{
		{presenceState(10), true},
		{presenceNoise(500), true},
		{annotation(1, 5, 500), false},
		{[]byte(`["1","p1","videos:1","phx_reply",{"status":"ok","response":{"presence_x":1}}]`), false},
		{[]byte(`[null,null,"videos:1","reactions_window",{"presence_x":1}]`), false},
		{[]byte(`[null,null,"videos:1","caught_up",{"last_id":6}]`), false},
	} {
		if got := onlyCounted(c.msg[:min(len(c.msg), frameHead)]); got != c.want {
			t.Errorf("%.80s: onlyCounted %v, want %v", c.msg, got, c.want)
		}
	}
}

// Telling a presence_state of 6,000 viewers apart (about 1 MB of JSON,
// each viewer's phx_ref random as the server's), compressed: inflated
// whole (whole), or as far as its head (head).
func BenchmarkClassifyPresenceState(b *testing.B) {
	rnd := rand.New(rand.NewPCG(1, 2))
	state := []byte(`[null,null,"videos:1","presence_state",{`)
	for u := range 6000 {
		ref := make([]byte, 20)
		for i := range ref {
			ref[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[rnd.IntN(62)]
		}
		state = fmt.Appendf(state, `"%d":{"metas":[{"phx_ref":"%s","device":"desktop","name":"viewer %d","online_at":%d}]},`, 1000+u, ref, u, 1796000000000+rnd.Int64N(1e6))
	}
	state = append(state[:len(state)-1], "}]"...)
	p := deflated(b, state, 0)
	b.Logf("presence_state: %d bytes of JSON, %d compressed", len(state), len(p))
	b.Run("whole", func(b *testing.B) {
		for b.Loop() {
			out, _, err := inflate(p, nil)
			if err != nil || !isPresence(out[:frameHead]) {
				b.Fatal(err)
			}
		}
	})
	b.Run("head", func(b *testing.B) {
		for b.Loop() {
			if _, whole, err := inflate(p, onlyCounted); err != nil || whole {
				b.Fatal(err)
			}
		}
	})
}
