package projections

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestStatsBoundsPointsOverHugeWindows: a window wider than a
// time.Duration can hold still gives at most maxPoints points.
func TestStatsBoundsPointsOverHugeWindows(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "rm"))
	defer db.Close()
	from := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	st, err := db.Stats(context.Background(), 1, from, to, time.Second, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Viewers) > maxPoints {
		t.Fatalf("%d points, want at most %d", len(st.Viewers), maxPoints)
	}
}
