package pebble_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

func TestReopenRestoresEverything(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openBench(t, dir)
	var want []eventstore.RecordedEvent
	for i := range 50 {
		stream := fmt.Sprintf("video-%d", i%3)
		if _, err := s.Append(ctx, stream, eventstore.Any, eventstore.EventData{Type: "t", Data: []byte(fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	want, err := s.ReadAll(ctx, eventstore.Forwards, 0, 100)
	if err != nil || len(want) != 50 {
		t.Fatalf("read %d events: %v", len(want), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openBench(t, dir)
	defer s.Close()
	got, err := s.ReadAll(ctx, eventstore.Forwards, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("after reopen: %d events, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Position != w.Position || g.Revision != w.Revision || g.Stream != w.Stream ||
			string(g.Data) != string(w.Data) || !g.RecordedAt.Equal(w.RecordedAt) || g.Hash != w.Hash {
			t.Fatalf("event %d differs after reopen:\n got %+v\nwant %+v", i, g, w)
		}
	}
	// The committer's view of streams and positions is restored too.
	if _, err := s.Append(ctx, "video-0", eventstore.Exact(16), eventstore.EventData{Type: "t"}); err != nil {
		t.Fatalf("append at the restored revision: %v", err)
	}
	r, err := s.Append(ctx, "video-9", eventstore.NoStream, eventstore.EventData{Type: "t"})
	if err != nil || r.FirstPosition != 52 {
		t.Fatalf("next position after reopen = %d, %v; want 52", r.FirstPosition, err)
	}
	// The hash chain continues across the reopen.
	evs, _ := s.ReadAll(ctx, eventstore.Forwards, 50, 3)
	h := eventstore.NewChainHasher()
	if evs[1].Hash != h.Sum(evs[0].Hash, &evs[1]) || evs[2].Hash != h.Sum(evs[1].Hash, &evs[2]) {
		t.Fatal("hash chain broken across reopen")
	}
}

// TestLockedByAnotherProcess opens the store in a child process and checks
// that opening it here then fails with a message that says so.
func TestLockedByAnotherProcess(t *testing.T) {
	if dir := os.Getenv("VIDEOLOGUE_HOLD_DIR"); dir != "" {
		return // the child's work is in TestMain-free form below
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldChild$")
	cmd.Env = append(os.Environ(), "VIDEOLOGUE_HOLD_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	buf := make([]byte, 5)
	if _, err := stdout.Read(buf); err != nil || string(buf) != "open\n"[:5] {
		t.Fatalf("child did not open the store: %q %v", buf, err)
	}
	_, err = pebble.Open(dir, pebble.Config{}, nil)
	if err == nil {
		t.Fatal("opened a directory held by another process")
	}
	if !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("error does not say the directory is in use: %v", err)
	}
}

// TestHoldChild holds a store open until its stdin closes.
func TestHoldChild(t *testing.T) {
	dir := os.Getenv("VIDEOLOGUE_HOLD_DIR")
	if dir == "" {
		t.Skip("child process of TestLockedByAnotherProcess")
	}
	s, err := pebble.Open(dir, pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.Stdout.WriteString("open\n")
	buf := make([]byte, 1)
	os.Stdin.Read(buf)
}

func TestDamagedDirectory(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"manifest marker names a missing file", func(t *testing.T, dir string) {
			m, _ := filepath.Glob(filepath.Join(dir, "marker.manifest.*"))
			for _, f := range m {
				os.Rename(f, filepath.Join(dir, "marker.manifest.000009.MANIFEST-000999"))
			}
		}},
		{"corrupt WAL", func(t *testing.T, dir string) {
			m, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			for _, f := range m {
				b, _ := os.ReadFile(f)
				for i := 0; i < len(b) && i < 64; i++ {
					b[i] ^= 0xff
				}
				writeFile(t, f, string(b))
			}
		}},
		{"truncated MANIFEST", func(t *testing.T, dir string) {
			m, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
			for _, f := range m {
				writeFile(t, f, "xx")
			}
		}},
		{"not a directory", func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			writeFile(t, dir, "I am a file")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			s := openBench(t, dir)
			if _, err := s.Append(ctx, "video-1", eventstore.Any, eventstore.EventData{Type: "t"}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			tc.damage(t, dir)
			_, err := pebble.Open(dir, pebble.Config{}, nil)
			if err == nil {
				t.Fatal("opened a damaged directory without an error")
			}
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error does not name the directory: %v", err)
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestCorruptRecordIsAnErrorNotAPanic(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openBench(t, dir)
	s.Append(ctx, "video-1", eventstore.Any, eventstore.EventData{Type: "t", Data: []byte(`{"a":1}`)})
	s.Append(ctx, "video-1", eventstore.Any, eventstore.EventData{Type: "t", Data: []byte(`{"a":2}`)})
	s.Close()
	if err := pebble.Tamper(dir, 2, func(rec []byte) []byte { return rec[:10] }); err != nil {
		t.Fatal(err)
	}
	_, err := pebble.Open(dir, pebble.Config{}, nil)
	if err == nil || !errors.Is(err, err) || !strings.Contains(err.Error(), "position 2") {
		t.Fatalf("opening a log whose last record is torn: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
