package web

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"

	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/stats"
)

// chart is one chart of the replay page, drawn on the server as inline
// SVG: no script, nothing the page's Content-Security-Policy refuses
// (colours come from classes in analyst.css, not style attributes). The
// numbers behind it stay available as JSON and CSV beside it.
type chart struct {
	ID, Title string
	Summary   string // the chart in words, for everyone and for screen readers
	SVG       template.HTML
}

// The charts' drawing area, in SVG user units; the SVG scales to the
// width of its box.
const (
	chartW, chartH         = 400, 180
	padL, padR, padT, padB = 30, 8, 12, 24
	plotW, plotH           = chartW - padL - padR, chartH - padT - padB
	// maxHeatBins bounds the bars across a video: a long one groups
	// several seconds in each.
	maxHeatBins     = 240
	chartHeatLevels = 5 // shades of the heatmap, chart-heat-1 to -5
	// Time labels: the clock, or the date too over a day or more.
	chartTimeLayout         = "15:04:05"
	chartLongTimeLayout     = "Jan 2 15:04"
	chartLongSpan           = 24 * time.Hour
	chartMinBarWidth        = 1.0
	chartBarGapFraction     = 0.2 // of a heatmap bar's slot
	chartLengthsBarFraction = 0.6
	chartEmptyText          = "Nothing yet"
)

// replayCharts draws the video's statistics from its first event to now:
// viewers over time, annotations per second of the video, viewing lengths.
func (a *analysis) replayCharts(ctx context.Context, v catalog.Video) ([]chart, error) {
	st, err := stats.Of(ctx, a.deps.ReadModels, v.ID, time.Time{}, time.Time{}, 0, a.now())
	if err != nil {
		return nil, err
	}
	return []chart{
		viewersChart(st),
		heatmapChart(st.Heatmap, v.DurationMS),
		lengthsChart(st.Viewings.Lengths, st.Viewings.Count, st.Viewings.Median),
	}, nil
}

// svg accumulates one chart's markup. Every number is formatted by it and
// every text escaped, so nothing a user wrote can become markup.
type svg struct{ b strings.Builder }

func newSVG(label string) *svg {
	s := &svg{}
	s.f(`<svg class="chart-svg" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, html.EscapeString(label))
	return s
}

func (s *svg) f(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svg) text(x, y float64, class, anchor, t string) {
	s.f(`<text x="%.1f" y="%.1f" class="%s" text-anchor="%s">%s</text>`, x, y, class, anchor, html.EscapeString(t))
}

func (s *svg) rect(x, y, w, h float64, class string) {
	s.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="%s"/>`, x, y, w, h, class)
}

// axes draws the frame: the y axis's top value and 0, and labels under
// the x axis at its start, middle (if any) and end.
func (s *svg) axes(yMax int64, xStart, xMid, xEnd string) {
	s.f(`<line x1="%d" y1="%d" x2="%d" y2="%d" class="chart-axis"/>`, padL, padT+plotH, padL+plotW, padT+plotH)
	s.f(`<line x1="%d" y1="%d" x2="%d" y2="%d" class="chart-grid"/>`, padL, padT, padL+plotW, padT)
	s.text(padL-6, padT+4, "chart-label", "end", fmt.Sprint(yMax))
	s.text(padL-6, padT+plotH+4, "chart-label", "end", "0")
	s.text(padL, chartH-8, "chart-label", "start", xStart)
	if xMid != "" {
		s.text(padL+plotW/2, chartH-8, "chart-label", "middle", xMid)
	}
	s.text(padL+plotW, chartH-8, "chart-label", "end", xEnd)
}

func (s *svg) empty() {
	s.text(padL+plotW/2, padT+plotH/2, "chart-empty", "middle", chartEmptyText)
}

func (s *svg) html() template.HTML {
	s.b.WriteString(`</svg>`)
	return template.HTML(s.b.String()) // built from numbers and escaped text only
}

// y is the SVG y of value v on a scale from 0 to yMax.
func y(v, yMax int64) float64 { return padT + plotH - float64(v)/float64(yMax)*plotH }

// viewersChart draws how many connections watched over time: for each
// step a bar up to the most during it, and a line at the count at its
// start.
func viewersChart(st stats.Summary) chart {
	c := chart{ID: "viewers", Title: "Viewers over time"}
	s := newSVG("Viewers over time, from " + st.From.UTC().Format(time.RFC3339) + " to " + st.To.UTC().Format(time.RFC3339))
	layout := chartTimeLayout
	if st.To.Sub(st.From) >= chartLongSpan {
		layout = chartLongTimeLayout
	}
	yMax := int64(max(1, st.Peak))
	for _, p := range st.Viewers {
		yMax = max(yMax, int64(p.Max))
	}
	s.axes(yMax, st.From.UTC().Format(layout), "", st.To.UTC().Format(layout)+" UTC")
	n := len(st.Viewers)
	if n == 0 || st.Peak == 0 {
		s.empty()
		c.Summary = "Nobody has watched yet."
		c.SVG = s.html()
		return c
	}
	w := float64(plotW) / float64(n)
	var line strings.Builder
	for i, p := range st.Viewers {
		x := padL + float64(i)*w
		if p.Max > 0 {
			top := y(int64(p.Max), yMax)
			s.rect(x, top, max(w, chartMinBarWidth), padT+plotH-top, "chart-area")
		}
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&line, "%s%.1f %.1fH%.1f", cmd, x, y(int64(p.Watching), yMax), x+w)
	}
	s.f(`<path d="%s" class="chart-line"/>`, line.String())
	c.Summary = fmt.Sprintf("At most %d watching at once, at %s UTC. Bars: the most during each %s; line: watching at its start.",
		st.Peak, st.PeakAt.UTC().Format(layout), st.Step.Round(time.Second))
	c.SVG = s.html()
	return c
}

// heatmapChart draws where in the video people comment: annotations per
// second of the video, grouped into at most maxHeatBins bars, each shaded
// by how many it holds.
func heatmapChart(cells []stats.HeatCell, durationMS int64) chart {
	c := chart{ID: "heatmap", Title: "Annotations by moment of the video"}
	span := (durationMS + 999) / 1000
	var total int64
	for _, h := range cells {
		span = max(span, h.Second+1)
		total += h.Annotations
	}
	span = max(span, 1)
	per := (span + maxHeatBins - 1) / maxHeatBins // seconds per bar
	bins := make([]int64, (span+per-1)/per)
	var most, mostAt int64
	for _, h := range cells {
		i := h.Second / per
		bins[i] += h.Annotations
		if bins[i] > most {
			most, mostAt = bins[i], i*per
		}
	}
	s := newSVG("Annotations per second of the video")
	s.axes(max(most, 1), "0:00", clockOf(span*1000/2), clockOf(span*1000))
	if total == 0 {
		s.empty()
		c.Summary = "No annotations yet."
		c.SVG = s.html()
		return c
	}
	w := float64(plotW) / float64(len(bins))
	for i, n := range bins {
		if n == 0 {
			continue
		}
		level := (n*chartHeatLevels + most - 1) / most // 1..chartHeatLevels, the most darkest
		top := y(n, most)
		s.rect(padL+float64(i)*w, top, max(w*(1-chartBarGapFraction), chartMinBarWidth), padT+plotH-top, fmt.Sprintf("chart-heat chart-heat-%d", level))
	}
	unit := "a second"
	if per > 1 {
		unit = fmt.Sprintf("%d seconds", per)
	}
	c.Summary = fmt.Sprintf("%s posted; the most, %d, at %s (each bar is %s of the video).", plural(int(total), "annotation"), most, clockOf(mostAt*1000), unit)
	c.SVG = s.html()
	return c
}

// lengthsChart draws how long viewings lasted, as a histogram.
func lengthsChart(buckets []stats.LengthBucket, count int, median time.Duration) chart {
	c := chart{ID: "lengths", Title: "How long people watched"}
	s := newSVG("Viewing lengths")
	var most int64 = 1
	for _, b := range buckets {
		most = max(most, int64(b.Count))
	}
	s.f(`<line x1="%d" y1="%d" x2="%d" y2="%d" class="chart-axis"/>`, padL, padT+plotH, padL+plotW, padT+plotH)
	if count == 0 || len(buckets) == 0 {
		s.empty()
		c.Summary = "No viewings yet."
		c.SVG = s.html()
		return c
	}
	w := float64(plotW) / float64(len(buckets))
	var prev time.Duration
	for i, b := range buckets {
		x := padL + float64(i)*w
		label := lengthLabel(prev, b.Under, i == 0)
		prev = b.Under
		s.text(x+w/2, chartH-8, "chart-label", "middle", label)
		if b.Count == 0 {
			continue
		}
		top := y(int64(b.Count), most)
		bw := w * chartLengthsBarFraction
		s.rect(x+(w-bw)/2, top, bw, padT+plotH-top, "chart-bar")
		s.text(x+w/2, top-4, "chart-value", "middle", fmt.Sprint(b.Count))
	}
	c.Summary = fmt.Sprintf("%s; the median lasted %s.", plural(count, "viewing"), median.Round(time.Second))
	c.SVG = s.html()
	return c
}

// lengthLabel names a histogram bucket, short enough for six side by
// side on a phone: "<10s", "10s–1m", "≥2h".
func lengthLabel(from, under time.Duration, first bool) string {
	switch {
	case under == 0:
		return "≥" + shortDuration(from)
	case first:
		return "<" + shortDuration(under)
	}
	return shortDuration(from) + "–" + shortDuration(under)
}

func shortDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// clockOf writes milliseconds of video as people read them: 1:05:09,
// 4:07, 0:42.
func clockOf(ms int64) string {
	s := ms / 1000
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
