// Package export writes what analysts and auditors take away: timelines,
// annotations, viewings and audit trails as NDJSON or CSV, and a
// video's annotations as W3C Web Annotations (JSON-LD). Every writer
// streams: records are written as they are given, through a small
// buffer, so an export of any size needs constant memory.
package export

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/videologue/videologue/projections"
)

// Format is an export format.
type Format string

const (
	NDJSON Format = "ndjson" // one JSON object per line
	CSV    Format = "csv"    // RFC 4180, with a header row
)

// ParseFormat accepts "ndjson" (or "jsonl") and "csv".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "ndjson", "jsonl":
		return NDJSON, nil
	case "csv":
		return CSV, nil
	}
	return "", fmt.Errorf("export: unknown format %q: use ndjson or csv", s)
}

// ContentType is the media type of f.
func (f Format) ContentType() string {
	if f == CSV {
		return "text/csv; charset=utf-8"
	}
	return "application/x-ndjson"
}

// Writer writes records of type T in a format.
type Writer[T any] struct {
	bw     *bufio.Writer
	csv    *csv.Writer
	enc    *json.Encoder
	header []string
	row    func(T) []string
	doc    func(T) any // what NDJSON writes of a record; nil: the record
	wrote  bool
}

func newWriter[T any](w io.Writer, f Format, header []string, row func(T) []string) *Writer[T] {
	x := &Writer[T]{bw: bufio.NewWriterSize(w, 32<<10), header: header, row: row}
	if f == CSV {
		x.csv = csv.NewWriter(x.bw)
	} else {
		x.enc = json.NewEncoder(x.bw)
		x.enc.SetEscapeHTML(false)
	}
	return x
}

// Write writes one record.
func (x *Writer[T]) Write(v T) error {
	if x.enc != nil && x.doc != nil {
		return x.enc.Encode(x.doc(v))
	} else if x.enc != nil {
		return x.enc.Encode(v)
	}
	if !x.wrote {
		x.wrote = true
		if err := x.csv.Write(x.header); err != nil {
			return err
		}
	}
	return x.csv.Write(x.row(v))
}

// Flush writes what is buffered (and a CSV header even when no record
// was written).
func (x *Writer[T]) Flush() error {
	if x.csv != nil {
		if !x.wrote {
			x.wrote = true
			if err := x.csv.Write(x.header); err != nil {
				return err
			}
		}
		x.csv.Flush()
		if err := x.csv.Error(); err != nil {
			return err
		}
	}
	return x.bw.Flush()
}

// Entries writes timeline or audit entries, each with the fields that
// apply to its kind.
func Entries(w io.Writer, f Format) *Writer[projections.Entry] {
	x := newWriter(w, f, []string{"position", "time", "kind", "video_id", "user_id", "username", "annotation_id", "at_ms", "body", "previous_body", "connection_id", "client_addr", "device", "reason", "presence_ref", "duration_ms", "parent_id"},
		func(e projections.Entry) []string {
			at, duration := "", ""
			if e.Kind.IsAnnotation() {
				at, duration = strconv.FormatInt(e.At, 10), strconv.FormatInt(e.Duration, 10)
			}
			ann, parent := "", ""
			if e.AnnotationID != 0 {
				ann = strconv.FormatInt(e.AnnotationID, 10)
			}
			if e.ParentID != 0 {
				parent = strconv.FormatInt(e.ParentID, 10)
			}
			return []string{u64(e.Position), ts(e.Time), string(e.Kind), i64(e.VideoID), i64(e.UserID), text(e.Username), ann, at,
				text(e.Body), text(e.Previous), text(e.ConnectionID), text(e.ClientAddr), text(e.Device), text(e.Reason), text(e.PresenceRef), duration, parent}
		})
	x.doc = entryDoc
	return x
}

// annotationEntry and viewerEntry are the NDJSON of an entry of each kind.
type annotationEntry struct {
	Position     uint64           `json:"position"`
	Time         time.Time        `json:"time"`
	Kind         projections.Kind `json:"kind"`
	VideoID      int64            `json:"video_id"`
	UserID       int64            `json:"user_id"`
	Username     string           `json:"username,omitempty"`
	AnnotationID int64            `json:"annotation_id"`
	At           int64            `json:"at"`
	Duration     int64            `json:"duration,omitempty"`
	Body         string           `json:"body,omitempty"`
	Previous     string           `json:"previous_body,omitempty"`
	ConnectionID string           `json:"connection_id,omitempty"`
	ClientAddr   string           `json:"client_addr,omitempty"`
	Reason       string           `json:"reason,omitempty"`    // a report's, a hide's or a dismissal's
	ParentID     int64            `json:"parent_id,omitempty"` // a reply's annotation
}

type viewerEntry struct {
	Position     uint64           `json:"position"`
	Time         time.Time        `json:"time"`
	Kind         projections.Kind `json:"kind"`
	VideoID      int64            `json:"video_id"`
	UserID       int64            `json:"user_id"`
	Username     string           `json:"username,omitempty"`
	ConnectionID string           `json:"connection_id,omitempty"`
	ClientAddr   string           `json:"client_addr,omitempty"`
	Device       string           `json:"device,omitempty"`
	Reason       string           `json:"reason,omitempty"`
	PresenceRef  string           `json:"presence_ref,omitempty"`
}

func entryDoc(e projections.Entry) any {
	if e.Kind.IsAnnotation() {
		return annotationEntry{e.Position, e.Time, e.Kind, e.VideoID, e.UserID, e.Username, e.AnnotationID, e.At, e.Duration, e.Body, e.Previous, e.ConnectionID, e.ClientAddr, e.Reason, e.ParentID}
	}
	return viewerEntry{e.Position, e.Time, e.Kind, e.VideoID, e.UserID, e.Username, e.ConnectionID, e.ClientAddr, e.Device, e.Reason, e.PresenceRef}
}

// Annotations writes annotations.
func Annotations(w io.Writer, f Format) *Writer[projections.Annotation] {
	return newWriter(w, f, []string{"id", "video_id", "at_ms", "user_id", "username", "body", "posted_at", "edited_at", "edits", "duration_ms"},
		func(a projections.Annotation) []string {
			return []string{i64(a.ID), i64(a.VideoID), i64(a.At), i64(a.UserID), text(a.Username), text(a.Body), ts(a.PostedAt), ts(a.EditedAt), i64(a.Edits), i64(a.Duration)}
		})
}

// Viewings writes viewings; now is the end of those still open
// for their length.
func Viewings(w io.Writer, f Format, now time.Time) *Writer[projections.Viewing] {
	return newWriter(w, f, []string{"video_id", "user_id", "username", "connection_id", "device", "joined_at", "left_at", "seconds", "reason", "presence_ref"},
		func(s projections.Viewing) []string {
			return []string{i64(s.VideoID), i64(s.UserID), text(s.Username), text(s.ConnectionID), text(s.Device), ts(s.JoinedAt), ts(s.LeftAt),
				strconv.FormatFloat(s.Length(now).Seconds(), 'f', 3, 64), text(s.Reason), text(s.PresenceRef)}
		})
}

func u64(n uint64) string { return strconv.FormatUint(n, 10) }
func i64(n int64) string  { return strconv.FormatInt(n, 10) }

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// text makes a user-supplied cell safe to open: control characters
// become visible escapes (see escapeControls), and a cell that a
// spreadsheet would evaluate as a formula gets a leading apostrophe.
func text(s string) string {
	s = escapeControls(s)
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

// escapeControls writes each C0 control (U+0000 to U+001F, tab and line
// breaks included), DEL and each C1 control (U+0080 to U+009F) as a
// visible escape: \x1b for ESC, \x0a for a line feed, \u009b for CSI.
// Raw, they would let a body move a terminal's cursor, erase a line,
// change colours or start what looks like a new row when the file is
// printed. A backslash is left as it is, so the escapes are for reading:
// the NDJSON export carries the exact text.
func escapeControls(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[r>>4])
			b.WriteByte(hexDigits[r&0xf])
		case r >= 0x80 && r <= 0x9f:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[r>>4])
			b.WriteByte(hexDigits[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

const hexDigits = "0123456789abcdef"

func isControl(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f }
