package conformance

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/videologue/videologue/eventstore"
)

// testContendedExact runs rounds in which many appenders race for the same
// next revision: exactly one wins each round, the others are told the
// revision it took, and nothing of theirs is written.
func testContendedExact(t *testing.T, o opener) {
	s := o.fresh(t)
	ctx := t.Context()
	const contenders, rounds, stream = 8, 40, "contended"
	winners := make([]string, rounds) // event ID that took each revision
	for r := range rounds {
		exp := eventstore.NoStream
		if r > 0 {
			exp = eventstore.Exact(uint64(r - 1))
		}
		type outcome struct {
			id  string
			res eventstore.AppendResult
			err error
		}
		out := make(chan outcome, contenders)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for c := range contenders {
			e := numbered(r*100 + c)
			wg.Go(func() {
				<-start
				res, err := s.Append(ctx, stream, exp, e)
				out <- outcome{e.ID, res, err}
			})
		}
		close(start)
		waitDone(t, fmt.Sprintf("round %d appenders", r), wg.Wait)
		close(out)
		won := 0
		for oc := range out {
			var wre *eventstore.WrongExpectedRevisionError
			switch {
			case oc.err == nil:
				won++
				winners[r] = oc.id
				if oc.res.NextExpected != uint64(r) {
					t.Errorf("round %d: winner got NextExpected %d, want %d", r, oc.res.NextExpected, r)
				}
			case !errors.Is(oc.err, eventstore.ErrWrongExpectedRevision) || !errors.As(oc.err, &wre):
				t.Fatalf("round %d: Append(%s): %v, want success or a *WrongExpectedRevisionError", r, exp, oc.err)
			case wre.Actual != int64(r):
				// A loser is evaluated after the winner (else it would have
				// won), and before the next round starts.
				t.Errorf("round %d: loser told the stream is at %d, want %d", r, wre.Actual, r)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of %d appenders expecting %s succeeded, want exactly 1", r, won, contenders, exp)
		}
	}
	evs := readStream(t, s, stream)
	if len(evs) != rounds {
		t.Fatalf("stream has %d events after %d rounds, want %d", len(evs), rounds, rounds)
	}
	for r, ev := range evs {
		if ev.Revision != uint64(r) || ev.ID != winners[r] {
			t.Fatalf("revision %d holds %s, want the winner %s", r, describe(&ev), winners[r])
		}
	}
	if log := readAll(t, s); len(log) != rounds {
		t.Fatalf("log has %d events, want %d: losers wrote something", len(log), rounds)
	}
}

// testOptimisticRetry has appenders append to one stream with Exact,
// learning the stream's revision only from their failures, as a command
// handler would.
func testOptimisticRetry(t *testing.T, o opener) {
	s := o.fresh(t)
	ctx := t.Context()
	const appenders, each, stream = 6, 15, "retried"
	took := make([][]struct {
		rev uint64
		id  string
	}, appenders)
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			exp := eventstore.NoStream
			for n, tries := 0, 0; n < each; tries++ {
				if tries > 100*appenders*each {
					t.Errorf("appender %d: %d tries for %d appends: the actual revisions reported must be wrong", a, tries, n)
					return
				}
				e := numbered(a*100 + n)
				res, err := s.Append(ctx, stream, exp, e)
				var wre *eventstore.WrongExpectedRevisionError
				switch {
				case err == nil:
					took[a] = append(took[a], struct {
						rev uint64
						id  string
					}{res.NextExpected, e.ID})
					exp = eventstore.Exact(res.NextExpected)
					n++
				case errors.As(err, &wre):
					if wre.Actual < 0 {
						t.Errorf("appender %d: %s failed with Actual %d, but the stream was written", a, exp, wre.Actual)
						return
					}
					exp = eventstore.Exact(uint64(wre.Actual))
				default:
					t.Errorf("appender %d: Append(%s): %v", a, exp, err)
					return
				}
			}
		})
	}
	waitDone(t, "appenders", wg.Wait)
	evs := readStream(t, s, stream)
	if len(evs) != appenders*each {
		t.Fatalf("stream has %d events, want %d", len(evs), appenders*each)
	}
	for a := range took {
		for _, tk := range took[a] {
			if tk.rev >= uint64(len(evs)) || evs[tk.rev].ID != tk.id {
				t.Fatalf("appender %d was told its event %s took revision %d, which holds %s", a, tk.id, tk.rev, listEvents(evs, int(min(tk.rev, uint64(len(evs)-1)))))
			}
		}
	}
	checkLog(t, s, readAll(t, s))
}
