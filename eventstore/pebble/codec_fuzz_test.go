package pebble

import (
	"bytes"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// FuzzChunk: whatever bytes a chunk holds, decoding returns events or an
// error, never a panic; and what appendRecord encodes decodes back exactly.
func FuzzChunk(f *testing.F) {
	ev := eventstore.RecordedEvent{ID: "id", Type: "t.v1", Stream: "video-1", Revision: 3,
		RecordedAt: time.Unix(0, 1700000000000000000), Data: []byte(`{"a":1}`), Metadata: []byte(`{}`)}
	rec := appendRecord(nil, &ev)
	f.Add(appendBytes([]byte{1}, rec))
	f.Add(append(appendBytes([]byte{2}, rec), appendBytes(nil, rec)...))
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, chunk []byte) {
		c, err := newChunkReader(7, chunk)
		if err != nil {
			return
		}
		for {
			rec, pos, more, err := c.next()
			if err != nil || !more {
				return
			}
			var ev eventstore.RecordedEvent
			if decodeRecord(rec, pos, &ev) != nil {
				continue
			}
			// Input may use non-canonical varints; what we encode must
			// decode to the same event.
			var back eventstore.RecordedEvent
			enc := appendRecord(nil, &ev)
			if len(enc) != recordLen(&ev) {
				t.Fatalf("recordLen %d, encoded %d bytes", recordLen(&ev), len(enc))
			}
			if err := decodeRecord(enc, pos, &back); err != nil {
				t.Fatalf("re-encoded record does not decode: %v", err)
			}
			if back.ID != ev.ID || back.Type != ev.Type || back.Stream != ev.Stream || back.Revision != ev.Revision ||
				!back.RecordedAt.Equal(ev.RecordedAt) || back.Hash != ev.Hash ||
				!bytes.Equal(back.Data, ev.Data) || !bytes.Equal(back.Metadata, ev.Metadata) {
				t.Fatalf("record does not round-trip:\n in %+v\nout %+v", ev, back)
			}
		}
	})
}

// FuzzKeys: stream index keys and values decode to what was encoded, for
// any valid stream name, and garbage is an error.
func FuzzKeys(f *testing.F) {
	f.Add("video-1", uint64(0), uint64(1), uint64(1))
	f.Add("viewers-42", uint64(1<<40), uint64(99), uint64(7))
	f.Add("é", ^uint64(0), ^uint64(0), uint64(1))
	f.Fuzz(func(t *testing.T, stream string, rev, pos, count uint64) {
		if eventstore.ValidateStream(stream) != nil || count == 0 {
			return
		}
		k := streamKey(stream, rev)
		if !bytes.HasPrefix(k, streamPrefix(stream)) {
			t.Fatal("key does not start with its stream prefix")
		}
		e, err := decodeIndex(k, appendIndexValue(nil, pos, count))
		if err != nil || e.firstRev != rev || e.firstPos != pos || e.count != count {
			t.Fatalf("index entry round trip: %+v %v", e, err)
		}
		if decodePos(eventKey(pos)) != pos {
			t.Fatal("event key round trip")
		}
		_, _ = decodeIndex([]byte(stream), []byte(stream))
	})
}
