package projections

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// flatCases are event data that the flat reader takes, and data it must
// hand over to encoding/json.
var flatCases = []string{
	`{"user_id":3,"username":"ann","body":"hello","at":1500}`,
	` { "user_id" : 3 , "username" : "ann" , "body" : "hé ✓" , "at" : 0 } `,
	`{"user_id":3,"username":"ann","body":"a \"quoted\" \u00e9 \n line","at":1}`,
	`{"user_id":3,"username":"ann","body":"bad \xff utf8","at":1}`,
	`{"user_id":null,"username":null,"body":"x","at":null}`,
	`{"USER_ID":7,"Body":"case"}`,
	`{"user_id":1,"extra":{"nested":[1,2]},"body":"x"}`,
	`{"user_id":1,"unknown":"x"}`,
	`{"user_id":1.5}`,
	`{"user_id":1e3}`,
	`{"user_id":-42}`,
	`{"user_id":99999999999999999999}`,
	`{"user_id":"7"}`,
	`{"body":"first","body":"second"}`,
	`{"body":true}`,
	`{}`,
	`[]`,
	`"string"`,
	`{"annotation_id":4,"user_id":2,"body":"edited"}`,
	`{"user_id":2,"username":"bob","connection_id":"c1","node":"n","device":"phone","at":"2025-03-01T12:00:00.123Z"}`,
	`{"user_id":2,"connection_id":"c1","node":"n","reason":"left","at":"not a time"}`,
	`{"user_id":2,"connection_id":"c1","at":"2025-03-01T12:00:00+02:00"}`,
	`{"user_id":1,"body":"tab	inside"}`,
}

var flatTypes = []string{domain.TypeAnnotationPosted, domain.TypeAnnotationEdited, domain.TypeAnnotationDeleted, domain.TypeViewerJoined, domain.TypeViewerLeft}

// decodeWithJSON is the reference: what encoding/json makes of data.
func decodeWithJSON(typ string, data []byte) (any, error) {
	var v any
	switch typ {
	case domain.TypeAnnotationPosted:
		v = new(domain.AnnotationPosted)
	case domain.TypeAnnotationEdited:
		v = new(domain.AnnotationEdited)
	case domain.TypeAnnotationDeleted:
		v = new(domain.AnnotationDeleted)
	case domain.TypeViewerJoined:
		v = new(domain.ViewerJoined)
	case domain.TypeViewerLeft:
		v = new(domain.ViewerLeft)
	}
	return v, json.Unmarshal(data, v)
}

// reused is one slot per type, reset before each check: a body decoded
// into a slot that held another's must not keep any of it.
var reused = newBodySlabs(1)

func checkFlat(t *testing.T, typ string, data []byte) {
	checkFlatIn(t, typ, data, nil, nil)
	reused.reset()
	checkFlatIn(t, typ, data, new(strArena), reused)
}

func checkFlatIn(t *testing.T, typ string, data []byte, a *strArena, b *bodySlabs) {
	got, gerr := decodeBodyIn(typ, data, a, b)
	want, werr := decodeWithJSON(typ, data)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("%s %q: error %v, encoding/json says %v", typ, data, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s %q:\n got %+v\nwant %+v", typ, data, got, want)
	}
	m, wm := decodeMetadataIn(data, a), eventstore.DecodeMetadata(data)
	if m != wm {
		t.Fatalf("metadata %q:\n got %+v\nwant %+v", data, m, wm)
	}
}

func TestFlatJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range flatCases {
		for _, typ := range flatTypes {
			checkFlat(t, typ, []byte(c))
		}
	}
	meta := `{"user_id":"3","connection_id":"c-9","client_addr":"10.0.0.1","correlation_id":"x","causation_id":"y"}`
	if m := decodeMetadata([]byte(meta)); m.ConnectionID != "c-9" || m.ClientAddr != "10.0.0.1" || m.CausationID != "y" {
		t.Fatalf("metadata %+v", m)
	}
}

func FuzzFlatJSON(f *testing.F) {
	for _, c := range flatCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, data string) {
		if !json.Valid([]byte(data)) {
			return // the log holds valid JSON only
		}
		for _, typ := range flatTypes {
			checkFlat(t, typ, []byte(data))
		}
	})
}

// plainString, which skips eight bytes at a time, finds the same end and
// refuses the same strings as a byte at a time, wherever the special
// byte falls.
func TestPlainStringWordAtATime(t *testing.T) {
	slow := func(p []byte, i int) ([]byte, int, bool) {
		ascii := true
		for j := i + 1; j < len(p); j++ {
			switch c := p[j]; {
			case c == '"':
				return p[i+1 : j], j + 1, ascii || utf8.Valid(p[i+1:j])
			case c == '\\' || c < 0x20:
				return nil, 0, false
			case c >= 0x80:
				ascii = false
			}
		}
		return nil, 0, false
	}
	specials := []string{`"`, `\`, "\x00", "\x1f", "\n", "\x7f", "é", "\xff", "\x80", " ", "~", "!"}
	for n := 0; n < 20; n++ {
		for at := 0; at <= n; at++ {
			for _, sp := range specials {
				body := []byte(strings.Repeat("a", at) + sp + strings.Repeat("b", n-at))
				p := append(append([]byte(`"`), body...), `",x`...)
				s1, n1, ok1 := plainString(p, 0)
				s2, n2, ok2 := slow(p, 0)
				if string(s1) != string(s2) || n1 != n2 || ok1 != ok2 {
					t.Fatalf("%q: got %q %d %v; want %q %d %v", p, s1, n1, ok1, s2, n2, ok2)
				}
			}
		}
	}
}

// A string of bytes the arena holds already (an event's data, copied in)
// shares them; any other is copied in.
func TestArenaStringSharesItsOwnBytes(t *testing.T) {
	var a strArena
	data := a.bytes([]byte(`{"body":"hello"}`))
	used := len(a.chunk)
	if s := a.str(data[9:14]); s != "hello" || len(a.chunk) != used {
		t.Fatalf("a string of the arena's own bytes: %q, %d bytes used after, %d before", s, len(a.chunk), used)
	}
	outside := []byte("world")
	s := a.str(outside)
	outside[0] = 'W'
	if s != "world" || len(a.chunk) != used+5 {
		t.Fatalf("a string of other bytes: %q, %d bytes used after, %d before", s, len(a.chunk), used)
	}
}
