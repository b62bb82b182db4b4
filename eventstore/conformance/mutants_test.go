package conformance_test

import (
	"bytes"
	"os"
	"os/exec"
	"testing"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/conformance"
)

// envMutant names the bug memStore runs with in a child of TestMutants.
const envMutant = "CONFORMANCE_MUTANT"

func TestMemStore(t *testing.T) {
	mut := os.Getenv(envMutant)
	conformance.Run(t, func(t testing.TB) eventstore.Store { return newMemStore(mut) })
}

// TestMutants runs, for each bug memStore can be given, the conformance
// test that should catch it, in a child process, and requires it to fail.
func TestMutants(t *testing.T) {
	if os.Getenv(envMutant) != "" {
		return
	}
	for _, m := range []struct{ mutant, test string }{
		{"no-validate", "BadInput"},
		{"exact-unsigned", "ExpectedRevision"},
		{"wrong-actual", "ExpectedRevision"},
		{"wrong-actual", "OptimisticRetry"},
		{"racy-exact", "ContendedExact"},
		{"torn", "AtomicAppends"},
		{"unordered", "GlobalOrder"},
		{"alias-data", "AppendReadBack"},
		{"no-id", "AssignedIDs"},
		{"zero-time", "AppendReadBack"},
		{"unchained", "HashChain"},
		{"backwards-exclusive", "ReadAll"},
		{"prefix-stream", "Limits"},
		{"prefix-stream", "EmptyReads"},
		{"read-closed", "ClosedStore"},
		{"ignore-ctx", "CancelledContext"},
		{"sub-skip", "Subscribe"},
		{"end-behind", "Subscribe"},
		{"after-inclusive", "Subscribe"},
		{"after-inclusive", "SlowSubscriber"},
	} {
		t.Run(m.mutant+"/"+m.test, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMemStore$/^"+m.test+"$", "-test.count=1", "-test.short", "-test.failfast")
			cmd.Env = append(os.Environ(), envMutant+"="+m.mutant)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with bug %q:\n%s", m.mutant, out)
			}
			if !bytes.Contains(out, []byte("--- FAIL: TestMemStore/"+m.test)) {
				t.Fatalf("bug %q: want %s to fail:\n%s", m.mutant, m.test, out)
			}
			t.Logf("%s", firstFailure(out))
		})
	}
}

// firstFailure returns the first line that reports a failed check.
func firstFailure(out []byte) []byte {
	for line := range bytes.Lines(out) {
		if t := bytes.TrimSpace(line); bytes.Contains(t, []byte(".go:")) {
			return t
		}
	}
	return nil
}
