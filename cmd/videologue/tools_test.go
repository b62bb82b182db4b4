package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/projections"
)

// seedLog writes two users, a video, annotations and viewers to an
// embedded log in dir.
func seedLog(t *testing.T, dir string) {
	t.Helper()
	s, err := pebble.Open(dir, pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	add := func(stream, typ string, v any, m eventstore.Metadata) {
		t.Helper()
		data, _ := json.Marshal(v)
		if _, err := s.Append(ctx, stream, eventstore.Any, eventstore.EventData{Type: typ, Data: data, Metadata: m.Encode()}); err != nil {
			t.Fatal(err)
		}
	}
	add(domain.UsersStream, domain.TypeUserRegistered, domain.UserRegistered{Username: "alice", PasswordHash: "x"}, eventstore.Metadata{})
	add(domain.UsersStream, domain.TypeUserRegistered, domain.UserRegistered{Username: "bob", PasswordHash: "x"}, eventstore.Metadata{})
	add(domain.VideosStream, domain.TypeVideoAdded, domain.VideoAdded{UserID: 1, Title: "Talk", URL: "https://cdn.example/talk.mp4"}, eventstore.Metadata{})
	add(domain.ViewersStream(1), domain.TypeViewerJoined, domain.ViewerJoined{UserID: 2, Username: "bob", ConnectionID: "c1"}, eventstore.Metadata{})
	for i := range 5 {
		add(domain.VideoStream(1), domain.TypeAnnotationPosted, domain.AnnotationPosted{UserID: int64(1 + i%2), Username: []string{"alice", "bob"}[i%2], Body: fmt.Sprintf("note %d", i), At: int64(1000 * (5 - i))},
			eventstore.Metadata{UserID: fmt.Sprint(1 + i%2), ConnectionID: "conn-x", ClientAddr: "192.0.2.7"})
	}
	add(domain.VideoStream(1), domain.TypeAnnotationEdited, domain.AnnotationEdited{AnnotationID: 1, UserID: 1, Body: "note 0, edited"}, eventstore.Metadata{})
	add(domain.ViewersStream(1), domain.TypeViewerLeft, domain.ViewerLeft{UserID: 2, ConnectionID: "c1", Reason: "left"}, eventstore.Metadata{})
}

func runTool(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAnalystAndAuditorTools(t *testing.T) {
	dir := t.TempDir()
	seedLog(t, dir)

	code, out, errs := runTool(t, "users", "grant", "alice", "analyst", "--data", dir)
	if code != 0 || !strings.Contains(out, "granted analyst to alice") {
		t.Fatalf("grant: %d %q %q", code, out, errs)
	}
	if code, _, errs := runTool(t, "users", "grant", "alice", "wizard", "--data", dir); code == 0 || !strings.Contains(errs, "role") {
		t.Fatalf("grant of an unknown role: %d %q", code, errs)
	}
	code, out, _ = runTool(t, "users", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, "1\talice\tviewer,analyst") {
		t.Fatalf("list: %d %q", code, out)
	}

	code, out, errs = runTool(t, "projections", "rebuild", "--data", dir)
	if code != 0 || !strings.Contains(out, "rebuilt activity, audit, replies from 12 events") || !strings.Contains(errs, "100%") {
		t.Fatalf("rebuild: %d %q %q", code, out, errs)
	}
	code, out, errs = runTool(t, "projections", "rebuild", "activity", "--data", dir)
	if code != 0 || !strings.Contains(out, "rebuilt activity") {
		t.Fatalf("rebuild activity: %d %q %q", code, out, errs)
	}
	if code, _, errs := runTool(t, "projections", "rebuild", "nope", "--data", dir); code == 0 || !strings.Contains(errs, "unknown projection") {
		t.Fatalf("rebuild nope: %d %q", code, errs)
	}
	code, out, _ = runTool(t, "projections", "status", "--data", dir)
	if code != 0 || !strings.Contains(out, "log head: 12") || !strings.Contains(out, "behind 0") {
		t.Fatalf("status: %d %q", code, out)
	}
	for _, p := range projections.Builtin() { // each in the format this build writes
		if !regexp.MustCompile(fmt.Sprintf(`(?m)^%s +at .* format %d$`, p.Name(), p.Version())).MatchString(out) {
			t.Fatalf("status of %s, format %d: %q", p.Name(), p.Version(), out)
		}
	}

	code, out, errs = runTool(t, "replay", "timeline", "--video", "1", "--format", "csv", "--data", dir)
	rows, _ := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || len(rows) != 9 || rows[1][2] != "viewer_joined" || rows[8][2] != "viewer_left" || rows[7][9] != "note 0" {
		t.Fatalf("timeline: %d %q %q", code, rows, errs)
	}
	code, out, errs = runTool(t, "replay", "state", "--video", "1", "--data", dir)
	var st struct {
		Annotations []struct {
			ID   int64
			Body string
			At   int64
		}
		Viewers []any
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Annotations) != 5 || st.Annotations[0].At != 1000 || st.Annotations[4].Body != "note 0, edited" || len(st.Viewers) != 0 {
		t.Fatalf("state: %d %s %q", code, out, errs)
	}
	code, out, _ = runTool(t, "replay", "stats", "--video", "1", "--data", dir)
	if code != 0 || !strings.Contains(out, `"peak_viewers": 1`) || !strings.Contains(out, `"viewings": {`) {
		t.Fatalf("stats: %d %s", code, out)
	}
	code, out, errs = runTool(t, "replay", "viewings", "--video", "1", "--data", dir)
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"left_at":`) {
		t.Fatalf("viewings: %d %q %q", code, out, errs)
	}
	// The deprecated earlier name answers the same.
	if code, alias, errs := runTool(t, "replay", "sessions", "--video", "1", "--data", dir); code != 0 || alias != out {
		t.Fatalf("sessions (deprecated alias of viewings): %d %q %q; want %q", code, alias, errs, out)
	}
	if code, _, errs := runTool(t, "replay", "timeline", "--video", "9", "--data", dir); code == 0 || !strings.Contains(errs, "not found") {
		t.Fatalf("unknown video: %d %q", code, errs)
	}

	code, out, _ = runTool(t, "audit", "trail", "--user", "bob", "--data", dir)
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, `"client_addr":"192.0.2.7"`) || !strings.Contains(out, `"connection_id":"conn-x"`) {
		t.Fatalf("trail: %d %q", code, out)
	}
	code, out, _ = runTool(t, "audit", "jsonld", "--video", "1", "--base", "https://v.example", "--data", dir)
	if code != 0 || !strings.Contains(out, `"value":"t=5"`) || !strings.Contains(out, `"total":5`) {
		t.Fatalf("jsonld: %d %q", code, out)
	}

	code, out, errs = runTool(t, "audit", "log", "--first", "3", "--last", "5", "--data", dir)
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.HasPrefix(out, `{"position":3,`) || strings.Count(out, `"previous_hash":"`) != 3 {
		t.Fatalf("log 3..5: %d %q %q", code, out, errs)
	}
	code, out, errs = runTool(t, "audit", "verify", "--data", dir)
	if code != 0 || !strings.Contains(out, "ok: 12 events verified") {
		t.Fatalf("verify: %d %q %q", code, out, errs)
	}
	// It prints an anchor; the intact log holds it, and a malformed one is
	// refused before anything is read.
	anchor := regexp.MustCompile(`--anchor (\d+:[0-9a-f]{64})`).FindStringSubmatch(out)
	if anchor == nil {
		t.Fatalf("verify printed no anchor: %q", out)
	}
	if code, out, errs := runTool(t, "audit", "verify", "--anchor", anchor[1], "--data", dir); code != 0 || !strings.Contains(out, "anchors held: 1") {
		t.Fatalf("verify --anchor on the intact log: %d %q %q", code, out, errs)
	}
	if code, _, errs := runTool(t, "audit", "verify", "--anchor", "12", "--data", dir); code == 0 || !strings.Contains(errs, "POSITION:HASH") {
		t.Fatalf("verify with a malformed anchor: %d %q", code, errs)
	}
	// Alter an annotation behind the store's back: verify names it.
	if err := pebble.Tamper(dir, 7, func(rec []byte) []byte { return bytes.Replace(rec, []byte("note 2"), []byte("note X"), 1) }); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runTool(t, "audit", "verify", "--data", dir)
	if code != 1 || !strings.Contains(errs, "event at position 7 (video-1 revision 2") {
		t.Fatalf("verify of a tampered log: %d %q", code, errs)
	}
}

// StartReadModels is how serve runs the read models: caught up at start,
// then live through the router, with their lag registered.
func TestStartReadModels(t *testing.T) {
	dir := t.TempDir()
	seedLog(t, dir)
	s, err := pebble.Open(dir, pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg := prometheus.NewRegistry()
	rm, err := StartReadModels(t.Context(), filepath.Join(dir, "readmodels"), s, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := rm.DB.Counts(t.Context(), 1); err != nil || c.Posted != 5 {
		t.Fatalf("caught up: %+v, %v", c, err)
	}
	data, _ := json.Marshal(domain.AnnotationPosted{UserID: 1, Username: "alice", Body: "live", At: 1})
	res, err := s.Append(t.Context(), domain.VideoStream(1), eventstore.Any, eventstore.EventData{Type: domain.TypeAnnotationPosted, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := rm.WaitFor(ctx, res.LastPosition); err != nil {
		t.Fatal(err)
	}
	if c, _ := rm.DB.Counts(t.Context(), 1); c.Posted != 6 {
		t.Fatalf("live: %+v", c)
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) == 0 {
		t.Fatalf("metrics: %v %v", mfs, err)
	}
	if err := rm.Close(); err != nil {
		t.Fatal(err)
	}
}

// A catch-up's progress is logged at most once an interval.
func TestLogProgress(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	quiet := logProgress(logger, time.Hour)
	quiet(5, 10)
	if buf.Len() != 0 {
		t.Fatalf("logged within the interval: %q", buf.String())
	}
	every := logProgress(logger, 0)
	every(5, 10)
	every(10, 10)
	if n := strings.Count(buf.String(), "read models catching up"); n != 2 || !strings.Contains(buf.String(), "position=10 head=10") {
		t.Fatalf("logged %d lines: %q", n, buf.String())
	}
}

// Read models that have applied events the log no longer holds (the log
// restored to an earlier point, and written to since) are moved aside and
// rebuilt at start, not left skipping the log's new events.
func TestStartReadModelsAheadOfTheLog(t *testing.T) {
	dir := t.TempDir()
	seedLog(t, dir)
	rmDir := filepath.Join(t.TempDir(), "readmodels")
	start := func(dir string) *ReadModels {
		t.Helper()
		s, err := pebble.Open(dir, pebble.Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		rm, err := StartReadModels(t.Context(), rmDir, s, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rm.Close() })
		return rm
	}
	rm := start(dir)
	if c, err := rm.DB.Counts(t.Context(), 1); err != nil || c.Posted != 5 {
		t.Fatalf("caught up: %+v, %v", c, err)
	}
	if err := rm.Close(); err != nil {
		t.Fatal(err)
	}
	// The same kind of history written again, at other times: as long as
	// the first, so positions alone cannot tell.
	other := t.TempDir()
	seedLog(t, other)
	rm = start(other)
	if c, err := rm.DB.Counts(t.Context(), 1); err != nil || c.Posted != 5 {
		t.Fatalf("rebuilt from the other log: %+v, %v", c, err)
	}
	aside, _ := filepath.Glob(rmDir + ".rewound-*")
	if len(aside) != 1 {
		t.Fatalf("read models moved aside: %v", aside)
	}
}
