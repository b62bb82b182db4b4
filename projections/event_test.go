package projections

import (
	"testing"

	"github.com/videologue/videologue/eventstore"
)

func TestStreamID(t *testing.T) {
	for _, c := range []struct {
		stream, category string
		id               int64
		ok               bool
	}{
		{"video-12", "video", 12, true},
		{"viewers-3", "viewers", 3, true},
		{"viewers-3", "video", 0, false},
		{"videos-12", "video", 0, false},
		{"video-12", "videos", 0, false},
		{"video-0", "video", 0, false},
		{"video--4", "video", 0, false},
		{"video-x", "video", 0, false},
		{"video-", "video", 0, false},
		{"video-12-3", "video", 0, false},
		{"video", "video", 0, false},
		{"users", "video", 0, false},
		{"", "", 0, false},
	} {
		ev := NewEvent(&eventstore.RecordedEvent{Stream: c.stream})
		for range 2 { // parsed, then remembered
			if id, ok := ev.streamID(c.category); id != c.id || ok != c.ok {
				t.Errorf("%q as %q: %d, %v; want %d, %v", c.stream, c.category, id, ok, c.id, c.ok)
			}
		}
	}
}
