package audit_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/videologue/videologue/audit"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

// truncated is a log whose events after end were removed.
type truncated struct {
	audit.Log
	end uint64
}

func (l truncated) ReadAll(ctx context.Context, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if dir == eventstore.Backwards && from > l.end {
		from = l.end
	}
	evs, err := l.Log.ReadAll(ctx, dir, from, limit)
	for i, ev := range evs {
		if ev.Position > l.end {
			return evs[:i], err
		}
	}
	return evs, err
}

// rewritten is a log in which the event at pos says something else and
// every hash from it on was recomputed, as a forger with write access
// would: the chain holds.
type rewritten struct {
	evs map[uint64]eventstore.RecordedEvent
	all []uint64
}

func rewrite(t *testing.T, l audit.Log, pos uint64) rewritten {
	t.Helper()
	evs, err := l.ReadAll(t.Context(), eventstore.Forwards, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	h := eventstore.NewChainHasher()
	r := rewritten{evs: map[uint64]eventstore.RecordedEvent{}}
	var prev [32]byte
	for _, ev := range evs {
		if ev.Position == pos {
			ev.Data = []byte(strings.Replace(string(ev.Data), "note", "NOTE", 1))
		}
		if ev.Position >= pos {
			ev.Hash = h.Sum(prev, &ev)
		}
		prev = ev.Hash
		r.evs[ev.Position] = ev
		r.all = append(r.all, ev.Position)
	}
	return r
}

func (r rewritten) ReadAll(_ context.Context, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	if dir == eventstore.Forwards {
		for _, p := range r.all {
			if p >= from && len(out) < limit {
				out = append(out, r.evs[p])
			}
		}
		return out, nil
	}
	for i := len(r.all) - 1; i >= 0 && len(out) < limit; i-- {
		if p := r.all[i]; p <= from {
			out = append(out, r.evs[p])
		}
	}
	return out, nil
}

func openLog(t *testing.T, dir string) *pebble.Store {
	t.Helper()
	s, err := pebble.Open(dir, pebble.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAnchorsCatchWhatTheChainCannot(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 500)
	s := openLog(t, dir)
	ctx := t.Context()
	rep, err := audit.Verify(ctx, s, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	head := audit.Anchor{Position: rep.Head, Hash: rep.HeadHash}
	mid, err := s.ReadAll(ctx, eventstore.Forwards, 250, 1)
	if err != nil {
		t.Fatal(err)
	}
	midAnchor := audit.Anchor{Position: mid[0].Position, Hash: mid[0].Hash}
	anchors := []audit.Anchor{midAnchor, head}

	if _, err := audit.Verify(ctx, s, audit.Options{Anchors: anchors}); err != nil {
		t.Fatalf("intact log against its own anchors: %v", err)
	}

	cases := []struct {
		name string
		log  audit.Log
		want string
	}{
		{"end removed", truncated{s, rep.Head - 40}, "removed from its end"},
		{"all removed but one", truncated{s, 1}, "removed from its end"},
		{"rewritten after the middle anchor", rewrite(t, s, 400), "rewritten"},
		{"rewritten before the middle anchor", rewrite(t, s, 100), "rewritten"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The chain alone holds: that is why anchors exist.
			if _, err := audit.Verify(ctx, c.log, audit.Options{}); err != nil {
				t.Fatalf("without anchors: %v (want the chain to hold)", err)
			}
			_, err := audit.Verify(ctx, c.log, audit.Options{Anchors: anchors})
			var ae *audit.AnchorError
			if !errors.As(err, &ae) || !strings.Contains(ae.Reason, c.want) {
				t.Fatalf("with anchors: %v, want an AnchorError saying %q", err, c.want)
			}
		})
	}
}

func TestParseAnchor(t *testing.T) {
	a := audit.Anchor{Position: 42}
	a.Hash[0], a.Hash[31] = 0xab, 0x01
	got, err := audit.ParseAnchor(" " + a.String() + "\n")
	if err != nil || got != a {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", "42", "0:" + strings.Repeat("00", 32), "x:00", "42:zz", "42:" + strings.Repeat("00", 31), "-1:" + strings.Repeat("00", 32)} {
		if _, err := audit.ParseAnchor(bad); err == nil {
			t.Errorf("ParseAnchor(%q) accepted", bad)
		}
	}
}
