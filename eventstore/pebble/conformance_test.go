package pebble_test

import (
	"log/slog"
	"testing"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/conformance"
	"github.com/videologue/videologue/eventstore/pebble"
)

func openStore(dir string) (eventstore.Store, error) {
	return pebble.Open(dir, pebble.Config{}, slog.New(slog.DiscardHandler))
}

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t testing.TB) eventstore.Store {
		s, err := openStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestCrash(t *testing.T) {
	conformance.RunCrash(t, conformance.CrashConfig{Open: openStore, ChildTestName: "TestCrashChild", Kills: 20})
}

// TestCrashChild is TestCrash's child process; run on its own it does
// nothing.
func TestCrashChild(t *testing.T) {
	conformance.CrashChild(openStore)
}
