package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/videologue/videologue/eventstore/pebble"
)

// The tools read an existing log; they never create one where --data
// points at nothing (a typo would otherwise verify an empty log, "ok"),
// and they do not send the operator looking for a running server.
func TestToolsRefuseAMissingLog(t *testing.T) {
	for _, args := range [][]string{
		{"audit", "verify"},
		{"audit", "log"},
		{"users", "list"},
		{"projections", "status"},
		{"projections", "rebuild"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		code, stdout, stderr := runTool(t, append(args, "--data", dir)...)
		if code == 0 || strings.Contains(stdout, "ok") || !strings.Contains(stderr, "no event log in "+dir) || strings.Contains(stderr, "server running") {
			t.Errorf("%v on a missing log: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%v created %s", args, dir)
		}
	}
}

// Read models are derived from the log: a damaged copy is moved aside and
// rebuilt, and serving goes on.
func TestDamagedReadModelsAreRebuilt(t *testing.T) {
	data := t.TempDir()
	seedLog(t, filepath.Join(data, "log"))
	rmDir := filepath.Join(data, "readmodels")
	log := openTestLog(t, filepath.Join(data, "log"))
	rm, err := StartReadModels(context.Background(), rmDir, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rm.Close(); err != nil {
		t.Fatal(err)
	}
	// Damage every table and manifest of the read models.
	files, _ := filepath.Glob(filepath.Join(rmDir, "*"))
	damaged := 0
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && len(b) > 0 && (strings.HasSuffix(f, ".sst") || strings.Contains(filepath.Base(f), "MANIFEST")) {
			for i := range b {
				b[i] ^= 0x5a
			}
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
			damaged++
		}
	}
	if damaged == 0 {
		t.Fatal("no read model files to damage")
	}
	rm, err = StartReadModels(context.Background(), rmDir, log, nil, nil)
	if err != nil {
		t.Fatalf("starting on damaged read models: %v", err)
	}
	defer rm.Close()
	c, err := rm.DB.Counts(context.Background(), 1)
	if err != nil || c.Posted != 5 {
		t.Fatalf("rebuilt read models: video 1's counts = %+v, %v", c, err)
	}
	aside, _ := filepath.Glob(rmDir + ".damaged-*")
	if len(aside) != 1 {
		t.Fatalf("the damaged read models were not moved aside: %v", aside)
	}
}

func openTestLog(t *testing.T, dir string) *pebble.Store {
	t.Helper()
	s, err := pebble.Open(dir, pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
