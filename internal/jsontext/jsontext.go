// Package jsontext checks JSON text for what encoding/json accepts but
// silently alters: an escaped UTF-16 surrogate without its pair ("\ud800")
// decodes to U+FFFD, so the text stored would not be the text sent.
// Refusing it keeps "stored verbatim" true and matches PostgreSQL's jsonb,
// which refuses such escapes too.
package jsontext

// LoneSurrogate reports whether b, JSON text, holds a \uXXXX escape of a
// surrogate that is not part of a high-low pair, and the offset of the
// first such escape. It reads escapes only: b need not be valid JSON, and
// an escaped backslash followed by "ud800" is not an escape of a surrogate.
func LoneSurrogate(b []byte) (offset int, found bool) {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 >= len(b) {
			return 0, false
		}
		if b[i+1] != 'u' {
			i++ // a two-byte escape such as \\ or \"
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			i++
			continue
		}
		switch {
		case 0xDC00 <= r && r <= 0xDFFF: // low without a high before it
			return i, true
		case 0xD800 <= r && r <= 0xDBFF:
			lo, ok := escapeAt(b, i+6)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return i, true
			}
			i += 11 // both escapes
		default:
			i += 5
		}
	}
	return 0, false
}

// escapeAt reads a \uXXXX escape at i.
func escapeAt(b []byte, i int) (rune, bool) {
	if len(b)-i < 6 || b[i] != '\\' || b[i+1] != 'u' {
		return 0, false
	}
	return hex4(b, i+2)
}

func hex4(b []byte, i int) (rune, bool) {
	if len(b)-i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
