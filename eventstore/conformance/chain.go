package conformance

import (
	"testing"

	"github.com/videologue/videologue/eventstore"
)

// testHashChain checks the chain of a store that keeps one, over appends
// of every shape; a store that keeps none (all hashes zero) passes.
func testHashChain(t *testing.T, o opener) {
	s := o.fresh(t)
	readFixture(t, s)
	appendOK(t, s, "chain", eventstore.NoStream, sized(4096))
	appendOK(t, s, "chain", eventstore.Exact(0), eventstore.EventData{Type: "bare.v1"})
	log := readAll(t, s)
	if !checkChain(t, log) {
		t.Log("the store keeps no hash chain (every Hash is zero)")
		return
	}
	// Each read path must return the hash the chain holds.
	checkLog(t, s, log)
}
