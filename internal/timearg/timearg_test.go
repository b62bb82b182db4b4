package timearg

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"  now ", now},
		{"-90m", now.Add(-90 * time.Minute)},
		{"2025-02-28T10:30:00Z", time.Date(2025, 2, 28, 10, 30, 0, 0, time.UTC)},
		{"2025-02-28T10:30:00.25+01:00", time.Date(2025, 2, 28, 9, 30, 0, 250e6, time.UTC)},
		{"2025-02-28", time.Date(2025, 2, 28, 0, 0, 0, 0, time.UTC)},
		{"1740830400.5", time.Unix(1740830400, 500e6).UTC()},
	} {
		got, err := Parse(c.in, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"yesterday", "-2x", "2025-13-01", "-1", "1e12", "NaN"} {
		if got, err := Parse(bad, now); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, got)
		}
	}
}
