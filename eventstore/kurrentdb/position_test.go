package kurrentdb

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"

	"github.com/videologue/videologue/eventstore"
)

// These tests cover what the store computes on its own, without a server:
// the envelope in KurrentDB's metadata, positions, IDs and the mapping of
// KurrentDB events to the store's.

func TestMetadataRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		env  envelope
		meta []byte
	}{
		{"no metadata", envelope{I: 0, N: 1}, nil},
		{"empty metadata", envelope{I: 2, N: 3}, []byte{}},
		{"object", envelope{I: 1, N: 2}, []byte(`{"user_id":"u-1","correlation_id":"c-1"}`)},
		{"spaced", envelope{I: 0, N: 1}, []byte(" { \"a\" : [1, 2e3] }\n")},
		{"null", envelope{I: 0, N: 1}, []byte(`null`)},
		{"scalar", envelope{I: 0, N: 1}, []byte(`42`)},
		{"looks like the envelope", envelope{I: 0, N: 1}, []byte(`{"videologue.v1":{"i":9,"n":10},"metadata":1}`)},
		{"caller ID", envelope{I: 4, N: 5, ID: "client-chosen-2"}, []byte(`{}`)},
		{"ID needing escapes", envelope{I: 0, N: 1, ID: "a\"b\\c<d>&é\u2028"}, nil},
		{"largest index", envelope{I: maxAppendEvents - 1, N: maxAppendEvents}, []byte(`[]`)},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := encodeMetadata(c.env, c.meta)
			if !json.Valid(b) {
				t.Errorf("encoded metadata %q is not JSON", b)
			}
			env, meta, ok := decodeMetadata(b)
			if !ok || env != c.env || !bytes.Equal(meta, c.meta) {
				t.Errorf("decode(%q) = %+v, %q, %v; want %+v, %q", b, env, meta, ok, c.env, c.meta)
			}
		})
	}
}

func TestForeignMetadata(t *testing.T) {
	for _, b := range []string{
		"",
		`{}`,
		`{"$correlationId":"x"}`,
		`{"videologue.v1":{"i":0,"n":1}`, // truncated
		`{"videologue.v1":{"i":0,"n":1},"other":1}`,         // another field
		`{"videologue.v1":{"i":0,"n":1,"x":2}}`,             // unknown envelope field
		`{"videologue.v1":{"i":1,"n":1}}`,                   // index out of its append
		`{"videologue.v1":{"i":-1,"n":1}}`,                  // negative index
		`{"videologue.v1":{"i":0,"n":0}}`,                   // empty append
		`{"videologue.v1":{"i":0,"n":65536}}`,               // more than a position numbers
		`{"videologue.v1":{"i":0,"n":1},"metadata":}`,       // no metadata after the key
		`{"videologue.v1":[0,1]}`,                           // not the envelope's shape
		`{"videologue.v1":{"i":0,"n":1}} {"metadata":null}`, // two values
	} {
		if env, meta, ok := decodeMetadata([]byte(b)); ok {
			t.Errorf("decode(%q) = %+v, %q, true; want false", b, env, meta)
		}
	}
}

func TestPositions(t *testing.T) {
	p, err := pack(1234, 0)
	if err != nil || p != 1234<<16 {
		t.Fatalf("pack(1234, 0) = %d, %v", p, err)
	}
	q, err := pack(1234, 7)
	if err != nil || q != p+7 {
		t.Fatalf("pack(1234, 7) = %d, %v; want %d", q, err, p+7)
	}
	if base, index := unpack(q); base != 1234 || index != 7 {
		t.Errorf("unpack(%d) = %d, %d", q, base, index)
	}
	// The next append starts at least one byte further in the log: its
	// first position is after every position of this one.
	next, _ := pack(1235, 0)
	last, _ := pack(1234, maxAppendEvents-1)
	if next <= last {
		t.Errorf("next append at %d, not after the last position %d of a full append", next, last)
	}
	// p-1 of a first event is never a position of the append before.
	if _, index := unpack(p - 1); index != indexMask || indexMask < maxAppendEvents {
		t.Errorf("p-1 of a first event has index %d, which an append can reach", index)
	}
	for _, c := range []struct {
		base  uint64
		index int
	}{{0, 0}, {maxLogPosition + 1, 0}, {1, maxAppendEvents}, {1, -1}} {
		if p, err := pack(c.base, c.index); err == nil {
			t.Errorf("pack(%d, %d) = %d, want an error", c.base, c.index, p)
		}
	}
	if p, err := pack(maxLogPosition, maxAppendEvents-1); err != nil || p != math.MaxUint64-1 {
		t.Errorf("pack(max, max) = %d, %v", p, err)
	}
}

func TestEventUUID(t *testing.T) {
	id := eventstore.NewID()
	if u, same := eventUUID(id); !same || u.String() != id {
		t.Errorf("eventUUID(%q) = %s, %v; want the same UUID", id, u, same)
	}
	for _, id := range []string{"client-chosen-2", strings.ToUpper(eventstore.NewID()), "{" + eventstore.NewID() + "}", strings.Repeat("i", 64)} {
		u, same := eventUUID(id)
		if same {
			t.Errorf("eventUUID(%q) claims the same UUID %s", id, u)
		}
		if again, _ := eventUUID(id); again != u || u == uuid.Nil {
			t.Errorf("eventUUID(%q) = %s, then %s; want one stable non-nil UUID", id, u, again)
		}
	}
}

func TestParseActual(t *testing.T) {
	for msg, want := range map[string]int64{
		"wrong expected version: expecting '2' but got '5'":           5,
		"wrong expected version: expecting 'no_stream' but got '0'":   0,
		"wrong expected version: expecting '0' but got 'no_stream'":   -1,
		"wrong expected version: expecting 'any' but got '123456789'": 123456789,
	} {
		if got, ok := parseActual(msg); !ok || got != want {
			t.Errorf("parseActual(%q) = %d, %v; want %d", msg, got, ok, want)
		}
	}
	for _, msg := range []string{"", "wrong expected version", "but got '", "but got 'x'", "but got '-3'"} {
		if got, ok := parseActual(msg); ok {
			t.Errorf("parseActual(%q) = %d, true; want false", msg, got)
		}
	}
}

func TestStreamState(t *testing.T) {
	for _, c := range []struct {
		exp  eventstore.ExpectedRevision
		want kurrentdb.StreamState
		ok   bool
	}{
		{eventstore.Any, kurrentdb.Any{}, true},
		{eventstore.NoStream, kurrentdb.NoStream{}, true},
		{eventstore.StreamExists, kurrentdb.StreamExists{}, true},
		{eventstore.Exact(0), kurrentdb.Revision(0), true},
		{eventstore.Exact(1 << 40), kurrentdb.Revision(1 << 40), true},
		{eventstore.Exact(math.MaxInt64), kurrentdb.Revision(math.MaxInt64), true},
		{eventstore.Exact(math.MaxInt64 + 1), nil, false},
		{eventstore.Exact(math.MaxUint64), nil, false},
	} {
		if got, ok := streamState(c.exp); ok != c.ok || got != c.want {
			t.Errorf("streamState(%s) = %#v, %v; want %#v, %v", c.exp, got, ok, c.want, c.ok)
		}
	}
}

func TestValidPrefix(t *testing.T) {
	for _, p := range []string{"", "vl-", "videologue/", "é-"} {
		if err := validPrefix(p); err != nil {
			t.Errorf("validPrefix(%q): %v", p, err)
		}
	}
	for _, p := range []string{"$vl-", "a\nb", "\xff", strings.Repeat("p", 129)} {
		if validPrefix(p) == nil {
			t.Errorf("validPrefix(%q) = nil, want an error", p)
		}
	}
}

// kevent is a KurrentDB event as the client returns it.
func kevent(stream string, rev, pos uint64, typ string, meta []byte) *kurrentdb.RecordedEvent {
	return &kurrentdb.RecordedEvent{
		EventID:      uuid.New(),
		EventType:    typ,
		StreamID:     stream,
		EventNumber:  rev,
		Position:     kurrentdb.Position{Commit: pos, Prepare: pos},
		CreatedDate:  time.Unix(1700000000, 0).UTC(),
		Data:         []byte(`{"n":1}`),
		UserMetadata: meta,
	}
}

func TestDecodeAndResolve(t *testing.T) {
	s := &Store{cfg: Config{Prefix: "vl-"}.withDefaults()}
	env := func(i, n int, id string, meta string) []byte {
		return encodeMetadata(envelope{I: i, N: n, ID: id}, []byte(meta))
	}
	// An append of three events to vl-video-1 at log positions 1000,
	// 1180, 1350; a foreign event; events outside the store.
	in := []*kurrentdb.RecordedEvent{
		kevent("vl-video-1", 4, 1000, "a.v1", env(0, 3, "", `{"m":0}`)),
		kevent("other-video-1", 0, 1100, "a.v1", env(0, 1, "", "")), // another prefix
		kevent("vl-video-1", 5, 1180, "a.v1", env(1, 3, "my-id", "")),
		kevent("$$vl-video-1", 0, 1300, "$metadata", nil), // KurrentDB's own stream
		kevent("vl-video-1", 6, 1350, "a.v1", env(2, 3, "", `null`)),
		kevent("vl-x", 0, 1500, "written.elsewhere", []byte(`{"$correlationId":"c"}`)),
		kevent("vl-x", 1, 1600, "$streamDeleted", nil), // a system event in a user stream
		kevent("vl-", 0, 1700, "a.v1", nil),            // the prefix alone names no stream
	}
	var xs []raw
	for _, ev := range in {
		if x, ok := s.decode(ev); ok {
			xs = append(xs, x)
		}
	}
	if len(xs) != 4 {
		t.Fatalf("decoded %d events of the store, want 4", len(xs))
	}
	evs, err := s.newResolver().events(t.Context(), xs)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		stream string
		rev    uint64
		pos    uint64
		id     string
		meta   string
	}{
		{"video-1", 4, 1000 << 16, in[0].EventID.String(), `{"m":0}`},
		{"video-1", 5, 1000<<16 + 1, "my-id", ""},
		{"video-1", 6, 1000<<16 + 2, in[4].EventID.String(), `null`},
		{"x", 0, 1500 << 16, in[5].EventID.String(), `{"$correlationId":"c"}`},
	}
	for i, w := range want {
		ev := evs[i]
		if ev.Stream != w.stream || ev.Revision != w.rev || ev.Position != w.pos || ev.ID != w.id || string(ev.Metadata) != w.meta {
			t.Errorf("event %d = %s@%d pos %d id %q meta %q; want %s@%d pos %d id %q meta %q",
				i, ev.Stream, ev.Revision, ev.Position, ev.ID, ev.Metadata, w.stream, w.rev, w.pos, w.id, w.meta)
		}
		if string(ev.Data) != `{"n":1}` || !ev.RecordedAt.Equal(in[0].CreatedDate) || ev.Hash != [32]byte{} {
			t.Errorf("event %d: data %q, recorded at %v, hash %x", i, ev.Data, ev.RecordedAt, ev.Hash)
		}
	}
	// Read backwards, the first event of the append comes last: the batch
	// still resolves without a server.
	rev := []raw{xs[2], xs[1], xs[0]}
	back, err := s.newResolver().events(t.Context(), rev)
	if err != nil || back[0].Position != evs[2].Position || back[2].Position != evs[0].Position {
		t.Errorf("backwards batch: %+v, %v", back, err)
	}
}

func TestStreamOf(t *testing.T) {
	s := &Store{}
	for name, want := range map[string]bool{"video-1": true, "$all": false, "$$video-1": false, "$ce-video": false, "a$": true} {
		if _, ok := s.streamOf(name); ok != want {
			t.Errorf("no prefix: streamOf(%q) ok = %v, want %v", name, ok, want)
		}
	}
	s.cfg.Prefix = "vl-"
	for name, want := range map[string]string{"vl-video-1": "video-1", "vl-$x": "", "video-1": "", "vl-": "", "vl-vl-a": "vl-a"} {
		if got, ok := s.streamOf(name); got != want || ok != (want != "") {
			t.Errorf("prefix vl-: streamOf(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}
