package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// waitTimeout bounds every wait for something the store must do (deliver a
// message, end a subscription, finish appends). It is far above what a
// healthy store needs even under the race detector, so only a hang trips it.
const waitTimeout = 60 * time.Second

// clockSkew is how far RecordedAt may be from the clock of the process that
// appended: a server-side store stamps events with its own clock.
const clockSkew = 5 * time.Second

// Run runs every conformance test against stores made by open. open returns
// a fresh, empty store; the suite closes it.
func Run(t *testing.T, open func(t testing.TB) eventstore.Store) {
	t.Helper()
	o := opener(open)
	t.Run("AppendReadBack", func(t *testing.T) { testAppendReadBack(t, o) })
	t.Run("AssignedIDs", func(t *testing.T) { testAssignedIDs(t, o) })
	t.Run("ReadAll", func(t *testing.T) { testReadAll(t, o) })
	t.Run("ScanAll", func(t *testing.T) { testScanAll(t, o) })
	t.Run("ReadStream", func(t *testing.T) { testReadStream(t, o) })
	t.Run("EmptyReads", func(t *testing.T) { testEmptyReads(t, o) })
	t.Run("ExpectedRevision", func(t *testing.T) { testExpectedRevision(t, o) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, o) })
	t.Run("Limits", func(t *testing.T) { testLimits(t, o) })
	t.Run("CancelledContext", func(t *testing.T) { testCancelledContext(t, o) })
	t.Run("ClosedStore", func(t *testing.T) { testClosedStore(t, o) })
	t.Run("CloseDuringUse", func(t *testing.T) { testCloseDuringUse(t, o) })
	t.Run("AtomicAppends", func(t *testing.T) { testAtomicAppends(t, o) })
	t.Run("ContendedExact", func(t *testing.T) { testContendedExact(t, o) })
	t.Run("OptimisticRetry", func(t *testing.T) { testOptimisticRetry(t, o) })
	t.Run("GlobalOrder", func(t *testing.T) { testGlobalOrder(t, o) })
	t.Run("HashChain", func(t *testing.T) { testHashChain(t, o) })
	t.Run("Subscribe", func(t *testing.T) { testSubscribe(t, o) })
	t.Run("SlowSubscriber", func(t *testing.T) { testSlowSubscriber(t, o) })
	t.Run("SubscriptionEnd", func(t *testing.T) { testSubscriptionEnd(t, o) })
}

// opener makes the stores of one test and closes them after it.
type opener func(t testing.TB) eventstore.Store

// fresh opens an empty store that is closed when t ends. A store the test
// closed itself may answer the second Close with ErrClosed.
func (o opener) fresh(t testing.TB) eventstore.Store {
	t.Helper()
	s := o(t)
	if s == nil {
		t.Fatal("open returned a nil store")
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	if evs := readAll(t, s); len(evs) != 0 {
		t.Fatalf("open returned a store holding %d events, want an empty one", len(evs))
	}
	return s
}
