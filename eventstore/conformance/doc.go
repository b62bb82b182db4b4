// Package conformance is the eventstore contract as tests: one suite that
// every backend's tests run, so that a projection or a channel written
// against eventstore.Store behaves the same on each of them.
//
// A backend wires it from its own test file:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t testing.TB) eventstore.Store {
//			s, err := pebble.Open(t.TempDir(), pebble.Config{}, slog.New(slog.DiscardHandler))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// An embedded backend also runs RunCrash, which kills a child process that
// is appending, again and again, and checks what survives (see CrashConfig).
//
// Beyond the comments of package eventstore, the suite holds stores to these
// readings of the contract; a backend that cannot meet one should change the
// contract, not the suite:
//
//   - Global positions start at 1 and strictly increase along the log; the
//     events of one append have contiguous positions, but two appends may
//     leave a gap between them (a SQL sequence can skip). Revisions in a
//     stream are contiguous from 0.
//   - A reader that has seen position P never later sees a new event below
//     P: events become visible in position order.
//   - Data and Metadata come back byte for byte as appended (no JSON
//     reformatting), and an empty ID is replaced by a unique one.
//   - RecordedAt is the wall-clock time of the append, within clockSkew.
//   - Reading or appending with a context that is already done fails with
//     the context's error and writes nothing.
//   - A read starting past the end (or before the start, backwards) is
//     empty, not an error.
//   - A backend that keeps the hash chain starts it from the zero hash and
//     chains every event, in position order, with eventstore.ChainHasher.
//
// No test asserts how fast anything is: waits are generous deadlines that
// only a hang exceeds.
//
// The suite tests itself: its own tests run it against a minimal in-memory
// store, which must pass, and against that store with one bug put in at a
// time, each of which the test meant to catch it must fail on.
package conformance
