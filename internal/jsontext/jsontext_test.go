package jsontext

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLoneSurrogate(t *testing.T) {
	cases := []struct {
		in     string
		lone   bool
		offset int
	}{
		{`"plain"`, false, 0},
		{`"\u00e9\n"`, false, 0},
		{`"\ud83d\ude00"`, false, 0}, // a pair: 😀
		{`"\uD83D\uDE00"`, false, 0},
		{`"\ud800"`, true, 1},
		{`"ab\udc00"`, true, 3},
		{`"\ud800x"`, true, 1},
		{`"\ud800\u0041"`, true, 1},
		{`"\ud800\ud800\udc00"`, true, 1},
		{`"\ude00\ud83d"`, true, 1},
		{`"\\ud800"`, false, 0}, // an escaped backslash, then text
		{`"\\\ud800"`, true, 3},
		{`{"a":"\ud83d\ude00","b":"\udfff"}`, true, 25},
		{`"\ud83d\ude00\ud83d"`, true, 13},
		{`"\u12"`, false, 0},
		{`\`, false, 0},
	}
	for _, tc := range cases {
		off, lone := LoneSurrogate([]byte(tc.in))
		if lone != tc.lone || off != tc.offset {
			t.Errorf("LoneSurrogate(%s) = %d, %v; want %d, %v", tc.in, off, lone, tc.offset, tc.lone)
		}
	}
}

// FuzzLoneSurrogate: a JSON string is refused exactly when encoding/json
// would not give back the UTF-16 it spells.
func FuzzLoneSurrogate(f *testing.F) {
	for _, s := range []string{`"a"`, `"\ud800"`, `"\ud83d\ude00"`, `"\\ud800"`, `"\udc00\ud800"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if !strings.HasPrefix(s, `"`) || json.Unmarshal([]byte(s), &got) != nil || !utf8.ValidString(s) {
			return
		}
		_, lone := LoneSurrogate([]byte(s))
		if faithful := decodesFaithfully(s); faithful == lone {
			t.Fatalf("LoneSurrogate(%s) = %v, but the escapes are faithful: %v", s, lone, faithful)
		}
	})
}

// decodesFaithfully decodes a valid JSON string into UTF-16 code units,
// each unescaped byte standing for a unit that is no surrogate (it parts
// the escapes around it), and reports whether the surrogates pair up.
func decodesFaithfully(s string) bool {
	var units []uint16
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			units = append(units, 0)
			continue
		}
		if s[i+1] != 'u' {
			i++
			units = append(units, 0)
			continue
		}
		r, _ := hex4([]byte(s), i+2)
		units = append(units, uint16(r))
		i += 5
	}
	return pairsUp(units)
}

// pairsUp reports whether every surrogate among units is half of a
// high-low pair.
func pairsUp(units []uint16) bool {
	for i := 0; i < len(units); i++ {
		switch u := units[i]; {
		case 0xD800 <= u && u <= 0xDBFF:
			if i+1 >= len(units) || units[i+1] < 0xDC00 || units[i+1] > 0xDFFF {
				return false
			}
			i++
		case 0xDC00 <= u && u <= 0xDFFF:
			return false
		}
	}
	return true
}
