package pebble_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/audit"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

// TestFlippedBytes flips one byte at random offsets across the files of a
// closed log, one offset at a time on a copy, then opens the copy and
// verifies its hash chain. Each run must end either with every event
// intact (the chain holds up to the original head, whose hash is the
// original's) or with an error naming the directory or the file; never a
// panic, never a shorter log that verifies. VIDEOLOGUE_FLIP_SEED repeats a
// run, VIDEOLOGUE_FLIPS sets how many offsets.
func TestFlippedBytes(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("VIDEOLOGUE_FLIP_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	flips := 200
	if v := os.Getenv("VIDEOLOGUE_FLIPS"); v != "" {
		flips, _ = strconv.Atoi(v)
	}
	if testing.Short() {
		flips = 20
	}
	t.Logf("seed %d (VIDEOLOGUE_FLIP_SEED=%d repeats this run)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	orig := filepath.Join(t.TempDir(), "log")
	head, headHash := buildFlipLog(t, orig)
	files, total := regularFiles(t, orig)
	start := time.Now()
	var intact, refused int
	for i := range flips {
		off := rng.Int64N(total)
		rel, at := locate(files, off)
		dir := filepath.Join(t.TempDir(), "log")
		copyDir(t, orig, dir)
		flipByte(t, filepath.Join(dir, rel), at, byte(1+rng.IntN(255)))
		what := fmt.Sprintf("flip %d: %s at %d (seed %d)", i, rel, at, seed)
		err := openAndVerify(dir, head, headHash)
		switch {
		case err == nil:
			intact++
		case errors.Is(err, errPanicked), errors.Is(err, errShort):
			t.Fatalf("%s: %v", what, err)
		case !strings.Contains(err.Error(), dir):
			t.Fatalf("%s: the error names neither the directory nor the file: %v", what, err)
		default:
			refused++
		}
	}
	t.Logf("%d flips: %d left every event intact, %d refused with an error naming the damage, in %s",
		flips, intact, refused, time.Since(start).Round(time.Millisecond))
}

var (
	errPanicked = errors.New("panicked")
	errShort    = errors.New("verified a log that is not the original")
)

// openAndVerify opens dir and verifies it: nil means every event up to
// head is there and chains to headHash.
func openAndVerify(dir string, head uint64, headHash [32]byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v\n%s", errPanicked, r, debug.Stack())
		}
	}()
	s, err := pebble.Open(dir, pebble.Config{CacheBytes: 1 << 20}, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := audit.Verify(ctx, s, audit.Options{Workers: 1, RangeSize: 512})
	if err != nil {
		return err
	}
	if rep.Head != head || rep.HeadHash != headHash || rep.Events != head {
		return fmt.Errorf("%w: %d events verified up to position %d, want %d", errShort, rep.Events, rep.Head, head)
	}
	return nil
}

// buildFlipLog writes a log whose files are of every kind: tables from a
// flush, then appends left in the write-ahead log only.
func buildFlipLog(t *testing.T, dir string) (uint64, [32]byte) {
	t.Helper()
	ctx := context.Background()
	s := openBench(t, dir)
	body := strings.Repeat("x", 120)
	appendN := func(from, n int) {
		for i := from; i < from+n; i++ {
			data := fmt.Appendf(nil, `{"i":%d,"body":%q}`, i, body)
			if _, err := s.Append(ctx, fmt.Sprintf("video-%d", i%7), eventstore.Any, eventstore.EventData{Type: "t", Data: data}); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendN(0, 600)
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	appendN(600, 200)
	last, err := s.ReadAll(ctx, eventstore.Backwards, eventstore.End, 1)
	if err != nil || len(last) != 1 {
		t.Fatalf("read the head: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return last[0].Position, last[0].Hash
}

type sizedFile struct {
	rel  string
	size int64
}

func regularFiles(t *testing.T, dir string) ([]sizedFile, int64) {
	t.Helper()
	var files []sizedFile
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil || info.Size() == 0 {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files = append(files, sizedFile{rel, info.Size()})
		total += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, total
}

func locate(files []sizedFile, off int64) (string, int64) {
	for _, f := range files {
		if off < f.size {
			return f.rel, off
		}
		off -= f.size
	}
	panic("offset beyond the files")
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, at int64, mask byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= mask
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// A damaged record in the last write-ahead log makes pebble drop it and
// everything after it at open. The checkpoint of the durable head turns
// that into a refusal; AcceptLoss opens the shorter log and records its
// head, after which it opens as usual.
func TestLostTailIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	head, _ := buildFlipLog(t, dir)
	wals, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(wals) == 0 {
		t.Fatal("no write-ahead log")
	}
	last := wals[len(wals)-1]
	info, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, last, info.Size()/2, 0x55)

	_, err = pebble.Open(dir, pebble.Config{}, nil)
	var lt *pebble.LostTailError
	if !errors.As(err, &lt) || !errors.Is(err, pebble.ErrLostTail) || lt.Durable != head || lt.Head >= head || !strings.Contains(err.Error(), "accept-loss") {
		t.Fatalf("opening a log that lost its tail: %v", err)
	}
	t.Logf("refused: %v", err)

	s, err := pebble.Open(dir, pebble.Config{AcceptLoss: true}, nil)
	if err != nil {
		t.Fatalf("accepting the loss: %v", err)
	}
	s.Close()
	s, err = pebble.Open(dir, pebble.Config{}, nil)
	if err != nil {
		t.Fatalf("reopening after accepting the loss: %v", err)
	}
	defer s.Close()
	evs, err := s.ReadAll(context.Background(), eventstore.Backwards, eventstore.End, 1)
	if err != nil || len(evs) != 1 || evs[0].Position != lt.Head {
		t.Fatalf("head after accepting the loss: %v %v, want position %d", evs, err, lt.Head)
	}
}

// Tools that only read open with MustExist: a missing log is an error,
// and nothing is created.
func TestMustExist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nowhere")
	_, err := pebble.Open(dir, pebble.Config{MustExist: true}, nil)
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("opening a missing log: %v", err)
	}
	if _, serr := os.Stat(dir); !errors.Is(serr, fs.ErrNotExist) {
		t.Fatalf("the open created %s: %v", dir, serr)
	}
	// An empty directory holds no log either.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := pebble.Open(dir, pebble.Config{MustExist: true}, nil); err == nil {
		t.Fatal("opened an empty directory as a log")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("the open wrote %d files into an empty directory", len(ents))
	}
}

// A damaged checkpoint is refused, naming it and the way out; AcceptLoss
// records a new one.
func TestDamagedCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	head, _ := buildFlipLog(t, dir)
	flipByte(t, filepath.Join(dir, "VIDEOLOGUE-HEAD"), 9, 0x01)
	_, err := pebble.Open(dir, pebble.Config{}, nil)
	var de *pebble.DamagedError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "VIDEOLOGUE-HEAD") || !strings.Contains(err.Error(), "accept-loss") {
		t.Fatalf("opening with a damaged checkpoint: %v", err)
	}
	s, err := pebble.Open(dir, pebble.Config{AcceptLoss: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = pebble.Open(dir, pebble.Config{}, nil)
	if err != nil {
		t.Fatalf("reopening after a new checkpoint: %v", err)
	}
	defer s.Close()
	if evs, err := s.ReadAll(context.Background(), eventstore.Backwards, eventstore.End, 1); err != nil || len(evs) != 1 || evs[0].Position != head {
		t.Fatalf("head after a new checkpoint: %v %v", evs, err)
	}
}
