package export_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/export"
	"github.com/videologue/videologue/projections"
)

var when = time.Date(2025, 3, 1, 12, 0, 0, 500_000_000, time.UTC)

func entries() []projections.Entry {
	return []projections.Entry{
		{Position: 7, Time: when, Kind: projections.KindPosted, VideoID: 1, UserID: 2, Username: "ann", AnnotationID: 3, At: 0, Body: "=HYPERLINK(\"x\")", ConnectionID: "c1", ClientAddr: "10.0.0.1"},
		{Position: 8, Time: when.Add(time.Second), Kind: projections.KindJoined, VideoID: 1, UserID: 4, Username: "bob", ConnectionID: "c2", Device: "desktop"},
		{Position: 9, Time: when.Add(2 * time.Second), Kind: projections.KindEdited, VideoID: 1, UserID: 2, AnnotationID: 3, At: 0, Body: "line\nbreak, \"quoted\"", Previous: "old", Duration: 2500},
	}
}

func TestEntriesCSV(t *testing.T) {
	var buf bytes.Buffer
	w := export.Entries(&buf, export.CSV)
	for _, e := range entries() {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0][0] != "position" || rows[0][8] != "body" {
		t.Fatalf("rows %q", rows)
	}
	if rows[1][8] != "'=HYPERLINK(\"x\")" {
		t.Errorf("a formula is not neutralized: %q", rows[1][8])
	}
	if rows[1][7] != "0" || rows[2][7] != "" || rows[2][6] != "" {
		t.Errorf("at/annotation columns: %q %q", rows[1], rows[2])
	}
	if rows[0][15] != "duration_ms" || rows[1][15] != "0" || rows[2][15] != "" || rows[3][15] != "2500" {
		t.Errorf("duration column: %q %q %q %q", rows[0], rows[1], rows[2], rows[3])
	}
	if rows[3][8] != `line\x0abreak, "quoted"` || rows[3][9] != "old" || rows[1][1] != "2025-03-01T12:00:00.5Z" {
		t.Errorf("row %q", rows[3])
	}
}

// TestCSVEscapesControlCharacters: a body with terminal escapes cannot
// move the cursor, ring the bell or fake a row when the file is printed,
// and formula-looking cells stay neutralized after escaping.
func TestCSVEscapesControlCharacters(t *testing.T) {
	cases := []struct{ body, want string }{
		{"ok\x1b[2K\rforged,row\a", `ok\x1b[2K\x0dforged,row\x07`},
		{"tab\there\x00nul\x7fdel", `tab\x09here\x00nul\x7fdel`},
		{"csi\u009b31m and nel\u0085", `csi\u009b31m and nel\u0085`},
		{"\r=1+1", `\x0d=1+1`},
		{"\t=1+1", `\x09=1+1`},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"é ✓ back\\slash", "é ✓ back\\slash"},
	}
	var buf bytes.Buffer
	w := export.Annotations(&buf, export.CSV)
	for i, c := range cases {
		if err := w.Write(projections.Annotation{ID: int64(i + 1), Body: c.body, Username: "u\x1b]0;title\x07"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, b := range buf.Bytes() {
		if b < 0x20 && b != '\n' || b == 0x7f {
			t.Fatalf("the CSV holds control byte %#x: %q", b, buf.String())
		}
	}
	if n := strings.Count(buf.String(), "\n"); n != len(cases)+1 {
		t.Fatalf("%d lines for %d rows and a header: %q", n, len(cases), buf.String())
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if got := rows[i+1][5]; got != c.want {
			t.Errorf("body %q: cell %q, want %q", c.body, got, c.want)
		}
		if got := rows[i+1][4]; got != `u\x1b]0;title\x07` {
			t.Errorf("username cell %q", got)
		}
	}
}

func TestEntriesNDJSON(t *testing.T) {
	var buf bytes.Buffer
	w := export.Entries(&buf, export.NDJSON)
	for _, e := range entries() {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	sc := bufio.NewScanner(&buf)
	var kinds []string
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		kinds = append(kinds, m["kind"].(string))
		if m["kind"] == "viewer_joined" {
			if _, ok := m["at"]; ok {
				t.Errorf("a viewer event has an at: %v", m)
			}
		} else if m["at"] != 0.0 {
			t.Errorf("an annotation at 0 lost its at: %v", m)
		}
	}
	if strings.Join(kinds, ",") != "annotation_posted,viewer_joined,annotation_edited" {
		t.Fatalf("kinds %v", kinds)
	}
}

func TestEmptyCSVHasHeader(t *testing.T) {
	var buf bytes.Buffer
	w := export.Viewings(&buf, export.CSV, when)
	w.Flush()
	if !strings.HasPrefix(buf.String(), "video_id,user_id,") {
		t.Fatalf("%q", buf.String())
	}
}

func TestWebAnnotations(t *testing.T) {
	anns := []projections.Annotation{
		{ID: 1, VideoID: 9, UserID: 2, Username: "ann", Body: "<b>hi</b>", At: 12500, PostedAt: when},
		{ID: 4, VideoID: 9, UserID: 3, Username: "bob", Body: "later", At: 61000, PostedAt: when, EditedAt: when.Add(time.Minute)},
		{ID: 5, VideoID: 9, UserID: 3, Username: "bob", Body: "the chorus", At: 61000, Duration: 9500, PostedAt: when},
	}
	var buf bytes.Buffer
	c := export.Collection{ID: "https://v.example/api/videos/9/annotations.jsonld", Label: "Talk", Video: "https://cdn.example/talk.mp4",
		AnnotationIRI: func(id int64) string { return fmt.Sprintf("https://v.example/api/videos/9/annotations/%d", id) },
		UserIRI:       func(id int64) string { return fmt.Sprintf("https://v.example/users/%d", id) }}
	err := export.WebAnnotations(&buf, c, func(yield func(export.Item) error) error {
		for _, a := range anns {
			if err := yield(export.Item{Annotation: a}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Context string `json:"@context"`
		Type    string
		Total   int
		First   struct {
			Type  string
			Items []struct {
				ID, Type, Motivation, Created, Modified string
				Body                                    struct{ Type, Value, Format string }
				Target                                  struct {
					Source   string
					Selector struct{ Type, ConformsTo, Value string }
				}
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if doc.Context != "http://www.w3.org/ns/anno.jsonld" || doc.Type != "AnnotationCollection" || doc.Total != 3 || doc.First.Type != "AnnotationPage" || len(doc.First.Items) != 3 {
		t.Fatalf("document %+v", doc)
	}
	a := doc.First.Items[0]
	if a.Type != "Annotation" || a.Motivation != "commenting" || a.Body.Type != "TextualBody" || a.Body.Value != "<b>hi</b>" ||
		a.Target.Source != "https://cdn.example/talk.mp4" || a.Target.Selector.Type != "FragmentSelector" ||
		a.Target.Selector.ConformsTo != "http://www.w3.org/TR/media-frags/" || a.Target.Selector.Value != "t=12.5" || a.Modified != "" {
		t.Fatalf("item %+v", a)
	}
	if b := doc.First.Items[1]; b.Target.Selector.Value != "t=61" || b.Modified == "" {
		t.Fatalf("item %+v", b)
	}
	if r := doc.First.Items[2]; r.Target.Selector.Value != "t=61,70.5" {
		t.Fatalf("a range's selector is %q, want t=61,70.5 (start,end in seconds)", r.Target.Selector.Value)
	}
}

func TestMediaFragment(t *testing.T) {
	for ms, want := range map[int64]string{0: "t=0", 1: "t=0.001", 12500: "t=12.5", 3600000: "t=3600"} {
		if got := export.MediaFragment(ms); got != want {
			t.Errorf("MediaFragment(%d) = %q, want %q", ms, got, want)
		}
	}
}

func TestMediaFragmentSpan(t *testing.T) {
	cases := []struct {
		ms, duration int64
		want         string
	}{{12500, 0, "t=12.5"}, {0, 1, "t=0,0.001"}, {12500, 7500, "t=12.5,20"}, {3600000, 1, "t=3600,3600.001"}}
	for _, c := range cases {
		if got := export.MediaFragmentSpan(c.ms, c.duration); got != c.want {
			t.Errorf("MediaFragmentSpan(%d, %d) = %q, want %q", c.ms, c.duration, got, c.want)
		}
	}
}

// hiddenSource is an export.Source of one video: two annotations and a
// reply, the second annotation and the reply hidden by a moderator.
type hiddenSource struct{}

func (hiddenSource) Hidden(context.Context, int64) (map[int64]bool, error) {
	return map[int64]bool{2: true, 3: true}, nil
}

func (hiddenSource) Annotations(_ context.Context, vid int64, fn func(projections.Annotation) error) error {
	for _, id := range []int64{1, 2} {
		if err := fn(projections.Annotation{ID: id, VideoID: vid, UserID: 2, Username: "ann", Body: "note", PostedAt: when}); err != nil {
			return err
		}
	}
	return nil
}

func (hiddenSource) Replies(_ context.Context, vid int64, fn func(projections.Reply) error) error {
	return fn(projections.Reply{ID: 3, VideoID: vid, ParentID: 1, UserID: 3, Username: "bob", Body: "reply", PostedAt: when})
}

// Items moderators hid stay in the auditors' export, marked.
func TestVideoItemsMarkHidden(t *testing.T) {
	var buf bytes.Buffer
	c := export.Collection{ID: "https://v.example/api/videos/9/annotations.jsonld", Video: "https://cdn.example/talk.mp4",
		AnnotationIRI: func(id int64) string { return fmt.Sprintf("https://v.example/api/videos/9/annotations/%d", id) },
		UserIRI:       func(id int64) string { return fmt.Sprintf("https://v.example/users/%d", id) }}
	if err := export.WebAnnotations(&buf, c, export.VideoItems(context.Background(), hiddenSource{}, 9)); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		First struct{ Items []map[string]any }
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.First.Items) != 3 {
		t.Fatalf("%d items, want all 3: %s", len(doc.First.Items), buf.String())
	}
	for i, want := range []bool{false, true, true} {
		if got, _ := doc.First.Items[i][export.HiddenProperty].(bool); got != want {
			t.Errorf("item %d: %s = %v, want %v", i, export.HiddenProperty, doc.First.Items[i][export.HiddenProperty], want)
		}
	}
}
