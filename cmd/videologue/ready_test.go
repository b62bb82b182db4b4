package main

import (
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

// A read model that stops (here: its record of an annotation is damaged,
// and an edit of it cannot be applied) makes /readyz's check fail with
// its name, while the server is not shutting down.
func TestReadyNamesAStoppedReadModel(t *testing.T) {
	dir := t.TempDir()
	seedLog(t, dir)
	rmDir := filepath.Join(dir, "readmodels")
	s, err := pebble.Open(dir, pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rm, err := StartReadModels(t.Context(), rmDir, s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{ReadModels: rm}
	if err := m.ready(); err != nil {
		t.Fatalf("ready with every read model running: %v", err)
	}
	if err := rm.Close(); err != nil {
		t.Fatal(err)
	}

	// Damage the activity model's record of annotation 2 of video 1.
	db, err := pebbledb.Open(rmDir, &pebbledb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte{'A', 'a'}, 1), 2)
	if err := db.Set(k, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, pebbledb.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	rm, err = StartReadModels(t.Context(), rmDir, s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	m = &Main{ReadModels: rm}
	data, _ := json.Marshal(domain.AnnotationEdited{AnnotationID: 2, UserID: 2, Body: "edited"})
	if _, err := s.Append(t.Context(), domain.VideoStream(1), eventstore.Any, eventstore.EventData{Type: domain.TypeAnnotationEdited, Data: data}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for rm.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	err = m.ready()
	if err == nil || !strings.Contains(err.Error(), "read model activity stopped") || strings.Contains(err.Error(), "audit") {
		t.Fatalf("ready with the activity model stopped: %v", err)
	}
}
