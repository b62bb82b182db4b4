package eventstore

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/videologue/videologue/internal/jsontext"
)

var validJSONSeeds = []string{
	``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `1e5`, `1E+5`, `1e-`, `.5`, `-01`,
	`true`, `false`, `null`, `tru`, `nul`, `truex`, `[1,]`, `[,1]`, `{"a":1,}`, `{"a"}`, `{"a":}`,
	`{1:2}`, `{"a":1 "b":2}`, `[1 2]`, ` {"a" : [ 1 , { } , [ ] , "x" ] } `, `{"a":1}x`, `{"a":1}}`,
	`"\u00e9\n\"\\\/\b\f\r\t"`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"\x01\"", "\"\xff\xfe\"", `"abc`,
	`{"body":"` + strings.Repeat("ab", 100) + `"}`, "[\n1\t,\r2]", `[[[[]]]]`, `[[[[]]]`, `]`, `}`,
	`{"a":{"b":[true,false,null,-1.25e+10]}}`, "\x00", `[-]`, `[1e]`, `[0.e1]`,
	`"\ud800"`, `"\udc00"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83d\u0041"`, `"\\ud800"`, `{"\ud800":1}`,
}

// FuzzValidJSON: validJSON agrees with encoding/json on every input, but
// for escaped lone surrogates, which it refuses.
func FuzzValidJSON(f *testing.F) {
	for _, s := range validJSONSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, lone := jsontext.LoneSurrogate(b)
		want := len(b) == 0 || json.Valid(b) && !lone
		if got := validJSON(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

func TestValidJSONDepth(t *testing.T) {
	for _, depth := range []int{63, 64, 65, maxJSONDepth - 1, maxJSONDepth, maxJSONDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			b := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(string(open[0]+2), depth))
			if got, want := validJSON(b), json.Valid(b); got != want {
				t.Errorf("depth %d of %q: validJSON %v, json.Valid %v", depth, open, got, want)
			}
		}
	}
}

func BenchmarkValidJSON(b *testing.B) {
	doc := []byte(`{"body":"` + strings.Repeat("abcdefghijklmnopqrstuvwxyz", 8)[:189] + `"}`)
	b.Run("validJSON", func(b *testing.B) {
		for range b.N {
			validJSON(doc)
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		for range b.N {
			json.Valid(doc)
		}
	})
}

func TestValidJSONRefusesLoneSurrogates(t *testing.T) {
	for _, s := range []string{`{"body":"\ud800"}`, `{"body":"a\udfffb"}`, `{"body":"\ud83d\ud83d"}`, `{"body":"\ud83d"}`, `{"\udc00":1}`} {
		if validJSON([]byte(s)) {
			t.Errorf("validJSON(%s) = true, want false: encoding/json would store U+FFFD", s)
		}
	}
	for _, s := range []string{`{"body":"\ud83d\ude00"}`, `{"body":"\\ud800"}`, `{"body":"\ufffd"}`} {
		if !validJSON([]byte(s)) {
			t.Errorf("validJSON(%s) = false, want true", s)
		}
	}
}
