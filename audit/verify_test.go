package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/videologue/videologue/audit"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/internal/testenv"
)

// fill writes n events over a few streams in appends of varied sizes and
// closes the store.
func fill(t testing.TB, dir string, n int) { fillSized(t, dir, n, 7) }

// fillSized is fill with appends of up to maxAppend events.
func fillSized(t testing.TB, dir string, n, maxAppend int) {
	t.Helper()
	s, err := pebble.Open(dir, pebble.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < n; {
		size := 1 + i%maxAppend
		evs := make([]eventstore.EventData, 0, size)
		for j := 0; j < size && i < n; j++ {
			evs = append(evs, eventstore.EventData{Type: "annotation_posted.v1",
				Data: []byte(fmt.Sprintf(`{"user_id":%d,"username":"u","body":"note %06d","at":%d}`, i%5, i, i*10))})
			i++
		}
		if _, err := s.Append(ctx, fmt.Sprintf("video-%d", i%3+1), eventstore.Any, evs...); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func verify(t testing.TB, dir string, opts audit.Options) (audit.Report, error) {
	t.Helper()
	s, err := pebble.Open(dir, pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return audit.Verify(context.Background(), s, opts)
}

func TestVerifyIntactLog(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 1000)
	for _, opts := range []audit.Options{{}, {Workers: 4, RangeSize: 37}} {
		rep, err := verify(t, dir, opts)
		if err != nil || rep.Events != 1000 || rep.Head != 1000 || rep.HeadHash == ([32]byte{}) {
			t.Fatalf("verify %+v: %+v, %v; want 1000 events verified", opts, rep, err)
		}
	}
}

// Each alteration of a stored event, made behind the store's back, is
// caught, and the first altered event is the one named.
func TestVerifyNamesTheFirstTamperedEvent(t *testing.T) {
	cases := []struct {
		name string
		pos  uint64
		edit func(rec []byte) []byte
	}{
		{"body", 517, func(rec []byte) []byte { return bytes.Replace(rec, []byte("note"), []byte("NOTE"), 1) }},
		{"stored hash", 3, func(rec []byte) []byte { rec[20] ^= 1; return rec }},
		{"server time", 999, func(rec []byte) []byte { rec[8] ^= 1; return rec }},
		{"first event", 1, func(rec []byte) []byte { return bytes.Replace(rec, []byte(`"at":0`), []byte(`"at":9`), 1) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir, 1000)
			if err := pebble.Tamper(dir, tc.pos, tc.edit); err != nil {
				t.Fatal(err)
			}
			// A second, later alteration: the first must still be named.
			if err := pebble.Tamper(dir, 1000, func(rec []byte) []byte { return bytes.Replace(rec, []byte("note"), []byte("nope"), 1) }); err != nil {
				t.Fatal(err)
			}
			for _, opts := range []audit.Options{{}, {Workers: 3, RangeSize: 50}} {
				_, err := verify(t, dir, opts)
				var m *audit.MismatchError
				if !errors.As(err, &m) || m.Position != tc.pos {
					t.Fatalf("verify %+v = %v; want a mismatch at %d", opts, err, tc.pos)
				}
			}
		})
	}
}

func TestVerifyEmptyLog(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 0)
	rep, err := verify(t, dir, audit.Options{})
	if err != nil || rep.Events != 0 {
		t.Fatalf("verify empty log: %+v, %v", rep, err)
	}
}

// BenchmarkVerify checks the hash chain of a log of a million events.
func BenchmarkVerify(b *testing.B) {
	dir := b.TempDir()
	fillSized(b, dir, 1_000_000, 2000)
	s, err := pebble.Open(dir, pebble.Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Compact(context.Background()); err != nil {
		b.Fatal(err)
	}
	cpu0 := testenv.CPUTime()
	b.ResetTimer()
	for range b.N {
		rep, err := audit.Verify(context.Background(), s, audit.Options{})
		if err != nil || rep.Events != 1_000_000 {
			b.Fatalf("%+v, %v", rep, err)
		}
	}
	b.ReportMetric(1e6*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(1e6*float64(b.N)/(testenv.CPUTime()-cpu0).Seconds(), "events/cpu-s")
}
