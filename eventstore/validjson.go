package eventstore

import "encoding/binary"

// validJSON accepts empty (no data) or well-formed JSON without escaped
// lone surrogates. It gives the same answer as json.Valid, except that it
// refuses "\ud800" and its kin (FuzzValidJSON checks), at a fraction of the
// cost: every append validates every event, and encoding/json's scanner
// takes a function call per byte. encoding/json would decode a lone
// surrogate as U+FFFD, so the event read back would not say what was
// written; PostgreSQL's jsonb refuses them too, so every backend agrees.
func validJSON(b []byte) bool { return len(b) == 0 || scanJSON(b) }

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
}

// scanJSON reports whether b is exactly one JSON value, with optional
// surrounding white space.
func scanJSON(b []byte) bool {
	var small [64]byte
	open := small[:0] // '{' or '[' for each container entered
	i := 0
	for {
		// A value is expected at i.
		i = skipJSONSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if len(open) == maxJSONDepth {
				return false
			}
			open = append(open, c)
			i = skipJSONSpace(b, i+1)
			if i < len(b) && b[i] == c+2 { // '}' or ']': empty
				open = open[:len(open)-1]
				i++
				break
			}
			if c == '{' {
				if i = scanJSONKey(b, i); i < 0 {
					return false
				}
			}
			continue
		case c == '"':
			i = scanJSONString(b, i)
		case c == '-' || '0' <= c && c <= '9':
			i = scanJSONNumber(b, i)
		case c == 't':
			i = scanJSONLiteral(b, i, "true")
		case c == 'f':
			i = scanJSONLiteral(b, i, "false")
		case c == 'n':
			i = scanJSONLiteral(b, i, "null")
		default:
			return false
		}
		if i < 0 {
			return false
		}
		// After a value: close containers until a comma asks for the next.
		for {
			i = skipJSONSpace(b, i)
			if len(open) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			top, c := open[len(open)-1], b[i]
			if c == top+2 {
				open = open[:len(open)-1]
				i++
				continue
			}
			if c != ',' {
				return false
			}
			i++
			if top == '{' {
				if i = scanJSONKey(b, skipJSONSpace(b, i)); i < 0 {
					return false
				}
			}
			break
		}
	}
}

// scanJSONKey reads a member name and its colon at i, and returns where
// the value may start, or -1.
func scanJSONKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = scanJSONString(b, i); i < 0 {
		return -1
	}
	i = skipJSONSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return i + 1
}

// scanJSONString reads the string starting with the quote at i, and
// returns the index after its closing quote, or -1. Like encoding/json, it
// does not check UTF-8.
func scanJSONString(b []byte, i int) int {
	for i++; i < len(b); {
		// Skip eight plain bytes at a time; the test may see special
		// bytes that are not there, never miss one that is.
		for len(b)-i >= 8 && !mayHaveSpecial(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := hexEscape(b, i)
				switch {
				case !ok, 0xDC00 <= r && r <= 0xDFFF: // a low surrogate alone
					return -1
				case 0xD800 <= r && r <= 0xDBFF: // a high one: its low must follow
					lo, ok := hexEscape(b, i+6)
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return -1
					}
					i += 12
				default:
					i += 6
				}
			default:
				return -1
			}
		case c < 0x20:
			return -1
		default:
			i++
		}
	}
	return -1
}

// hexEscape reads the \uXXXX escape at i.
func hexEscape(b []byte, i int) (rune, bool) {
	if len(b)-i < 6 || b[i] != '\\' || b[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, h := range b[i+2 : i+6] {
		switch {
		case '0' <= h && h <= '9':
			h -= '0'
		case 'a' <= h && h <= 'f':
			h -= 'a' - 10
		case 'A' <= h && h <= 'F':
			h -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(h)
	}
	return r, true
}

// mayHaveSpecial reports whether one of the eight bytes of v may be a
// quote, a backslash or a control character (the bit tricks of "Bit
// Twiddling Hacks": hasless and haszero).
func mayHaveSpecial(v uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := v^(ones*'"'), v^(ones*'\\')
	return ((v-ones*0x20)&^v|(q-ones)&^q|(bs-ones)&^bs)&highs != 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanJSONNumber reads the number starting at i and returns the index
// after it, or -1.
func scanJSONNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	return i
}

func scanJSONLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}
