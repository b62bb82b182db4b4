package web

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/stats"
)

// wellFormed fails t unless svg parses as XML, and returns how many
// elements of each name it holds.
func wellFormed(t *testing.T, svg string) map[string]int {
	t.Helper()
	n := map[string]int{}
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			n[se.Name.Local]++
		}
	}
}

func TestHeatmapChart(t *testing.T) {
	for _, c := range []struct {
		name       string
		cells      []stats.HeatCell
		durationMS int64
		bars       int
		summary    string
	}{
		{"none", nil, 60_000, 0, "No annotations yet."},
		{"a few", []stats.HeatCell{{Second: 3, Annotations: 2}, {Second: 12, Annotations: 5}}, 30_000, 2, "7 annotations posted; the most, 5, at 0:12 (each bar is a second of the video)."},
		// Two hours: 30 seconds a bar; seconds 0 and 29 share one.
		{"a long video", []stats.HeatCell{{Second: 0, Annotations: 1}, {Second: 29, Annotations: 1}, {Second: 7199, Annotations: 1}}, 7_200_000, 2, "the most, 2, at 0:00 (each bar is 30 seconds"},
		// Annotations beyond the known duration widen the chart.
		{"beyond the duration", []stats.HeatCell{{Second: 90, Annotations: 1}}, 0, 1, "at 1:30"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := heatmapChart(c.cells, c.durationMS)
			if got := wellFormed(t, string(ch.SVG))["rect"]; got != c.bars {
				t.Errorf("%d bars, want %d", got, c.bars)
			}
			if !strings.Contains(ch.Summary, c.summary) {
				t.Errorf("summary %q, want %q", ch.Summary, c.summary)
			}
		})
	}
}

func TestViewersAndLengthsCharts(t *testing.T) {
	from := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := stats.Summary{From: from, To: from.Add(4 * time.Minute), Step: time.Minute, Peak: 3, PeakAt: from.Add(time.Minute),
		Viewers: []stats.ViewerPoint{{T: from, Watching: 1, Max: 1}, {T: from.Add(time.Minute), Watching: 1, Max: 3}, {T: from.Add(2 * time.Minute), Watching: 0, Max: 0}, {T: from.Add(3 * time.Minute), Watching: 2, Max: 2}}}
	ch := viewersChart(st)
	if n := wellFormed(t, string(ch.SVG)); n["rect"] != 3 || n["path"] != 1 {
		t.Errorf("viewers: %v, want 3 bars and a line", n)
	}
	if !strings.Contains(ch.Summary, "At most 3 watching at once, at 12:01:00 UTC") || !strings.Contains(string(ch.SVG), ">12:04:00 UTC<") {
		t.Errorf("viewers: %q\n%s", ch.Summary, ch.SVG)
	}
	if ch := viewersChart(stats.Summary{From: from, To: from.Add(time.Hour)}); ch.Summary != "Nobody has watched yet." || wellFormed(t, string(ch.SVG))["rect"] != 0 {
		t.Errorf("no viewers: %q", ch.Summary)
	}

	buckets := []stats.LengthBucket{{Under: 10 * time.Second, Count: 2}, {Under: time.Minute, Count: 0}, {Under: 2 * time.Hour, Count: 5}, {Under: 0, Count: 1}}
	ch = lengthsChart(buckets, 8, 90*time.Second)
	n := wellFormed(t, string(ch.SVG))
	if n["rect"] != 3 {
		t.Errorf("lengths: %d bars, want 3", n["rect"])
	}
	for _, label := range []string{">&lt;10s<", ">10s–1m<", ">1m–2h<", ">≥2h<"} {
		if !strings.Contains(string(ch.SVG), label) {
			t.Errorf("lengths: no label %s in\n%s", label, ch.SVG)
		}
	}
	if ch.Summary != "8 viewings; the median lasted 1m30s." {
		t.Errorf("lengths: %q", ch.Summary)
	}
}
