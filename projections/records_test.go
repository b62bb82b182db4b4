package projections

import (
	"errors"
	"testing"
	"time"
)

// Every record decodes to what was encoded; a counts record of the wrong
// size is corrupt.
func TestRecordsRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 27, 22, 0, 0, 123, time.UTC)
	c := Counts{VideoID: 7, Events: 1 << 40, Posted: 3, Edited: 2, Deleted: 1, Live: 2, Joins: 9, Leaves: 8, Watching: -1,
		Peak: 4, PeakAt: at, FirstAt: at.Add(-time.Hour), LastAt: at.Add(time.Hour)}
	got, err := decodeCounts(encodeCounts(nil, &c))
	if err != nil || got != c {
		t.Fatalf("counts: %+v, %v; want %+v", got, err, c)
	}
	if got, err := decodeCounts(encodeCounts(nil, &Counts{})); err != nil || got != (Counts{}) {
		t.Fatalf("zero counts: %+v, %v", got, err)
	}
	raw := encodeCounts(nil, &c)
	for _, bad := range [][]byte{nil, raw[:len(raw)-1], append(raw, 0)} {
		if _, err := decodeCounts(bad); !errors.Is(err, errCorrupt) {
			t.Fatalf("counts of %d bytes: %v; want errCorrupt", len(bad), err)
		}
	}

	a := Annotation{ID: 3, VideoID: 7, UserID: 2, Username: "ann", Body: "hello", At: 1500, PostedAt: at, EditedAt: at.Add(time.Second), Edits: 1}
	if got, err := decodeAnnotation(encodeAnnotation(nil, &a)); err != nil || got != a {
		t.Fatalf("annotation: %+v, %v; want %+v", got, err, a)
	}
	r := a
	r.Duration = 4000
	if got, err := decodeAnnotation(encodeAnnotation(nil, &r)); err != nil || got != r {
		t.Fatalf("range annotation: %+v, %v; want %+v", got, err, r)
	}
	if old := enc(nil).i(a.ID).i(a.VideoID).i(a.UserID).s(a.Username).s(a.Body).i(a.At).t(a.PostedAt).t(a.EditedAt).t(a.DeletedAt).b(a.Deleted).i(a.Edits); true {
		if got, err := decodeAnnotation(old); err != nil || got != a {
			t.Fatalf("an annotation written before ranges: %+v, %v; want %+v", got, err, a)
		}
	}
	v := version{kind: KindPosted, time: at, body: "hello", userID: 2, username: "ann", at: 1500, duration: 4000}
	if got, err := decodeVersion(encodeVersion(nil, &v), at); err != nil || got != v {
		t.Fatalf("range version: %+v, %v; want %+v", got, err, v)
	}
	s := Viewing{VideoID: 7, UserID: 2, Username: "ann", ConnectionID: "c1", Device: "phone", Node: "n1", JoinedAt: at, LeftAt: at.Add(time.Minute), Reason: "left"}
	if got, err := decodeViewing(encodeViewing(nil, &s)); err != nil || got != s {
		t.Fatalf("viewing: %+v, %v; want %+v", got, err, s)
	}
	e := Entry{Position: 99, Time: at, Kind: KindEdited, VideoID: 7, UserID: 2, Username: "ann", AnnotationID: 3, At: 1500,
		Body: "new", Previous: "old", ConnectionID: "c1", ClientAddr: "10.0.0.1", Duration: 2500}
	for _, prefix := range []key{newKey(nsAudit), newKey(nsActivity, 't').i64(7)} {
		if got, err := decodeEntry(entryKey(prefix, &e), encodeEntry(nil, &e)); err != nil || got != e {
			t.Fatalf("entry: %+v, %v; want %+v", got, err, e)
		}
	}
	if _, err := decodeEntry([]byte{nsAudit}, encodeEntry(nil, &e)); !errors.Is(err, errCorrupt) {
		t.Fatalf("an entry of a short key: %v; want errCorrupt", err)
	}
}
