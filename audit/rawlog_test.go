package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/videologue/videologue/audit"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

// logLine is a line of audit.WriteLog as an outside checker reads it.
type logLine struct {
	Position     uint64          `json:"position"`
	Stream       string          `json:"stream"`
	Revision     uint64          `json:"revision"`
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	RecordedAtNS int64           `json:"recorded_at_ns"`
	Data         json.RawMessage `json:"data"`
	DataB64      []byte          `json:"data_base64"`
	Metadata     json.RawMessage `json:"metadata"`
	MetadataB64  []byte          `json:"metadata_base64"`
	PreviousHash string          `json:"previous_hash"`
	Hash         string          `json:"hash"`
}

// chainHash is the formula of docs/ANALYSTS-AND-AUDITORS.md, written here
// from the document, not from the code, as an outside checker would.
func chainHash(prev []byte, l *logLine) string {
	var b []byte
	b = append(b, prev...)
	for _, s := range []string{l.ID, l.Type, l.Stream} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, l.Revision)
	b = binary.BigEndian.AppendUint64(b, l.Position)
	b = binary.BigEndian.AppendUint64(b, uint64(l.RecordedAtNS))
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.DataB64)))
	b = append(b, l.DataB64...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.MetadataB64)))
	b = append(b, l.MetadataB64...)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func exportLog(t *testing.T, dir string, first, last uint64) []logLine {
	t.Helper()
	s, err := pebble.Open(dir, pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out bytes.Buffer
	if err := audit.WriteLog(context.Background(), s, &out, first, last); err != nil {
		t.Fatalf("WriteLog(%d, %d): %v", first, last, err)
	}
	var lines []logLine
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", len(lines)+1, err, sc.Bytes())
		}
		lines = append(lines, l)
	}
	return lines
}

// checkChain recomputes the chain over lines and returns the position of
// the first line whose hash does not match, or 0.
func checkChain(t *testing.T, lines []logLine) uint64 {
	t.Helper()
	for i := range lines {
		l := &lines[i]
		if i > 0 && l.PreviousHash != lines[i-1].Hash {
			t.Fatalf("line %d: previous_hash %s, the line before has hash %s", i+1, l.PreviousHash, lines[i-1].Hash)
		}
		prev, err := hex.DecodeString(l.PreviousHash)
		if err != nil || len(prev) != 32 {
			t.Fatalf("line %d: previous_hash %q", i+1, l.PreviousHash)
		}
		if chainHash(prev, l) != l.Hash {
			return l.Position
		}
	}
	return 0
}

// The exported log can be checked without Videologue's code: every line's
// hash is the documented formula over the line, chained to the line
// before; a range carries the hash it chains to; and an event altered
// behind the store's back shows in the recomputed chain.
func TestWriteLogCanBeCheckedOutside(t *testing.T) {
	dir := t.TempDir()
	s, err := pebble.Open(dir, pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Stored bytes that a JSON parser would not give back as they are:
	// spaces, a newline, HTML characters, no metadata.
	odd := eventstore.EventData{Type: "odd.v1", Data: json.RawMessage("{\"a\": 1,\n \"b\": \"x<y & z\"}"), Metadata: json.RawMessage(`{ "user_id": "7" }`)}
	if _, err := s.Append(ctx, "misc", eventstore.Any, odd, eventstore.EventData{Type: "bare.v1", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fillMore(t, dir, 300)

	lines := exportLog(t, dir, 0, eventstore.End)
	if len(lines) != 302 {
		t.Fatalf("%d lines, want 302", len(lines))
	}
	if lines[0].PreviousHash != strings.Repeat("0", 64) {
		t.Fatalf("the first event chains to %s, want zeros", lines[0].PreviousHash)
	}
	for i, l := range lines {
		if l.Position != uint64(i+1) {
			t.Fatalf("line %d has position %d", i+1, l.Position)
		}
	}
	if bad := checkChain(t, lines); bad != 0 {
		t.Fatalf("the intact log's chain breaks at %d", bad)
	}
	if string(lines[0].DataB64) != string(odd.Data) || string(lines[0].Data) != `{"a":1,"b":"x<y & z"}` || lines[1].Metadata != nil && string(lines[1].Metadata) != "null" {
		t.Fatalf("first lines: data %q (stored %q), readable %s; second metadata %s", lines[0].DataB64, odd.Data, lines[0].Data, lines[1].Metadata)
	}

	part := exportLog(t, dir, 100, 120)
	if len(part) != 21 || part[0].Position != 100 || part[0].PreviousHash != lines[98].Hash {
		t.Fatalf("range 100..120: %d lines from %d chaining to %s", len(part), part[0].Position, part[0].PreviousHash)
	}
	if bad := checkChain(t, part); bad != 0 {
		t.Fatalf("the range's chain breaks at %d", bad)
	}

	if err := pebble.Tamper(dir, 150, func(rec []byte) []byte { return bytes.Replace(rec, []byte("note"), []byte("NOTE"), 1) }); err != nil {
		t.Fatal(err)
	}
	if bad := checkChain(t, exportLog(t, dir, 0, eventstore.End)); bad != 150 {
		t.Fatalf("after altering event 150 the recomputed chain breaks at %d, want 150", bad)
	}
}

// fillMore appends n annotation-like events with metadata to the log in dir.
func fillMore(t *testing.T, dir string, n int) {
	t.Helper()
	s, err := pebble.Open(dir, pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		ev := eventstore.EventData{Type: "annotation_posted.v1", Data: json.RawMessage(`{"body":"note ` + strings.Repeat("x", i%17) + `"}`),
			Metadata: json.RawMessage(`{"user_id":"1","connection_id":"c"}`)}
		if _, err := s.Append(context.Background(), "video-1", eventstore.Any, ev); err != nil {
			t.Fatal(err)
		}
	}
}
