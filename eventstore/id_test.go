package eventstore

import (
	"regexp"
	"testing"
	"time"
)

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// IDs are version 7 UUIDs: unique, and those made in a later millisecond
// sort after those made before it.
func TestNewIDIsTimeOrdered(t *testing.T) {
	seen := map[string]bool{}
	before := NewID()
	for i := 0; i < 10000; i++ {
		id := NewID()
		if !uuidV7.MatchString(id) {
			t.Fatalf("%q is not a version 7 UUID", id)
		}
		if seen[id] {
			t.Fatalf("%q made twice", id)
		}
		seen[id] = true
	}
	start := time.Now()
	for time.Now().UnixMilli() == start.UnixMilli() {
		time.Sleep(100 * time.Microsecond) // wait for the clock's next millisecond
	}
	if after := NewID(); after <= before {
		t.Fatalf("an ID made later, %q, sorts before %q", after, before)
	}
}
