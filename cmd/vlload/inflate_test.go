package main

import (
	"bytes"
	"compress/flate"
	"strings"
	"testing"
)

// A compressed message (RSV1) is inflated before it is recorded, read a
// byte at a time or whole; without permessage-deflate negotiated, RSV1
// is an error.
func TestFeedInflatesCompressedMessages(t *testing.T) {
	state := []byte(`[null,null,"videos:1","presence_state",{"1":{"metas":[` + strings.Repeat(`{"phx_ref":"r","device":"desktop"},`, 200) + `{}]}}]`)
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestSpeed)
	_, _ = w.Write(state)
	_ = w.Flush()
	compressed := bytes.TrimSuffix(z.Bytes(), deflateEnd)
	f := serverFrame(opText, compressed)
	f[0] |= rsv1
	stream := append(append([]byte(nil), f...), serverFrame(opText, annotation(1, 5, 0))...)

	for _, step := range []int{1, len(stream)} {
		v := &viewer{deflate: true}
		for i := 0; i < len(stream); i += step {
			if !v.feed(stream[i:min(i+step, len(stream))], receipt{}) {
				t.Fatalf("step %d: %v", step, v.readErr)
			}
		}
		if v.presence.frames != 1 || v.presence.bytes != int64(len(state)) || v.presence.wire != int64(len(f)) {
			t.Fatalf("step %d: presence %+v, want 1 frame of %d bytes, %d on the wire", step, v.presence, len(state), len(f))
		}
		if len(v.ids) != 1 || v.ids[0] != 1 {
			t.Fatalf("step %d: ids %v after the compressed frame", step, v.ids)
		}
	}
	if v := (&viewer{}); v.feed(f, receipt{}) || v.readErr == nil {
		t.Fatal("RSV1 without permessage-deflate: no error")
	}
}
