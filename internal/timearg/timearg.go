// Package timearg reads the instants people give the analysts' and
// auditors' tools, on a command line or in a query string.
package timearg

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Parse reads an instant as analysts give one on a command line or in
// a query string: RFC 3339 ("2025-03-01T12:00:00Z"), a date
// ("2025-03-01", midnight UTC), Unix seconds ("1740830400.5"), "now", or
// a duration before now ("-90m", "-2h"). The empty string is the zero
// time: an open bound.
func Parse(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return time.Time{}, nil
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "-") && !strings.Contains(s, ":"):
		d, err := time.ParseDuration(s)
		if err == nil {
			return now.Add(d), nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f < 1e11 {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2025-03-01T12:00:00Z), a date, Unix seconds, now, or -2h", s)
}
