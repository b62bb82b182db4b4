// Package testenv lets tests state what they need from the machine: a test
// that needs something absent skips with a message saying what is missing,
// and under CI (CI=true) that skip becomes a failure, so a green CI run
// cannot hide a missing install step.
package testenv

import (
	"os"
	"strconv"
	"testing"
)

// InCI reports whether the tests run under CI (the environment variable CI
// is a true value, as CI services and .ci/run set it).
func InCI() bool {
	ok, _ := strconv.ParseBool(os.Getenv("CI"))
	return ok
}

// Require skips t when ok is false, with a message naming what is missing;
// under CI it fails t instead. what reads as a noun phrase: "node on PATH",
// "npm packages in channels/testdata/phoenixjs (run npm ci there)".
func Require(t testing.TB, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("missing %s (required under CI=true)", what)
	}
	t.Skipf("skipped: missing %s", what)
}
