package projections

import (
	"encoding/binary"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// A rebuild decodes a million small JSON objects; encoding/json costs
// several microseconds each. flatObject reads the common case, a flat
// object of plain scalars, in a fraction of that, and says when it cannot
// (an escaped or non-UTF-8 string, a nested value, an unknown field, a
// type mismatch): the caller then uses encoding/json, so the result is
// always what encoding/json would give. TestFlatJSONAgreesWithEncodingJSON
// checks it.

// fval is one scalar value of a flat object.
type fval struct {
	kind byte      // '"' string, '0' number, 't' true, 'f' false, 'n' null
	raw  []byte    // the string's bytes without quotes, or the number's text
	full []byte    // the value as written, quotes included
	strs *strArena // where str copies strings to
}

// str stores a string value in s (null leaves s unchanged, as
// encoding/json does).
func (v fval) str(s *string) bool {
	switch v.kind {
	case '"':
		*s = v.strs.str(v.raw)
		return true
	case 'n':
		return true
	}
	return false
}

// int stores an integer value in n.
func (v fval) int(n *int64) bool {
	switch v.kind {
	case '0':
		x, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(v.raw), len(v.raw)), 10, 64)
		if err != nil {
			return false
		}
		*n = x
		return true
	case 'n':
		return true
	}
	return false
}

// time stores a time value in t the way encoding/json does.
func (v fval) time(t *time.Time) bool {
	if v.kind == 'n' {
		return true
	}
	return v.kind == '"' && t.UnmarshalJSON(v.full) == nil
}

// strArena holds the strings and bytes of a page of events, a chunk at a
// time, instead of allocating each one: a rebuild reads millions. A
// string shares its chunk's bytes, which are not written again until
// reset, after which the chunks serve again: whoever reset the arena
// must be done with everything it handed out. The nil arena allocates
// each string.
type strArena struct {
	chunk  []byte   // being filled: chunks[used-1]
	chunks [][]byte // every chunk made, for reuse after a reset
	used   int
}

const arenaChunk = 64 << 10

func (a *strArena) str(b []byte) string {
	if a == nil || len(b) > arenaChunk/4 {
		return string(b)
	}
	if len(b) == 0 {
		return ""
	}
	if a.holds(b) { // a string of an event's data, which the page copied in
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	c := a.bytes(b)
	return unsafe.String(unsafe.SliceData(c), len(c))
}

// holds reports whether b lies in the chunk being filled: bytes the
// arena handed out, which it never writes again until reset.
func (a *strArena) holds(b []byte) bool {
	if len(a.chunk) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(a.chunk)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(a.chunk))
}

// copy returns a copy of s in the arena.
func (a *strArena) copy(s string) string {
	if len(s) == 0 || len(s) > arenaChunk/4 {
		return strings.Clone(s)
	}
	c := a.room(len(s))
	c = append(c, s...)
	a.chunk = a.chunk[:len(a.chunk)+len(s)]
	return unsafe.String(unsafe.SliceData(c), len(c))
}

// bytes returns a copy of b in the arena.
func (a *strArena) bytes(b []byte) []byte {
	if len(b) > arenaChunk/4 {
		return append([]byte(nil), b...)
	}
	c := append(a.room(len(b)), b...)
	a.chunk = a.chunk[:len(a.chunk)+len(b)]
	return c[:len(c):len(c)]
}

// room returns an empty slice of the arena with room for n bytes; the
// caller appends them, then extends a.chunk over them.
func (a *strArena) room(n int) []byte {
	if cap(a.chunk)-len(a.chunk) < n {
		if a.used == len(a.chunks) {
			a.chunks = append(a.chunks, make([]byte, 0, arenaChunk))
		}
		a.chunk = a.chunks[a.used][:0]
		a.used++
	}
	return a.chunk[len(a.chunk):len(a.chunk):cap(a.chunk)]
}

// reset makes the arena's chunks free for reuse.
func (a *strArena) reset() { a.chunk, a.used = nil, 0 }

// flatObject calls field for each member of the JSON object p, in order.
// It returns false when p is not a flat object of plain scalars, or when
// field returns false.
func flatObject(p []byte, field func(key []byte, v fval) bool) bool {
	return flatObjectIn(p, nil, field)
}

// flatObjectIn is flatObject with the strings copied into a.
func flatObjectIn(p []byte, a *strArena, field func(key []byte, v fval) bool) bool {
	i := skipSpace(p, 0)
	if i >= len(p) || p[i] != '{' {
		return false
	}
	i = skipSpace(p, i+1)
	if i < len(p) && p[i] == '}' {
		return skipSpace(p, i+1) == len(p)
	}
	for {
		if i >= len(p) || p[i] != '"' {
			return false
		}
		key, next, ok := plainString(p, i)
		if !ok {
			return false
		}
		i = skipSpace(p, next)
		if i >= len(p) || p[i] != ':' {
			return false
		}
		i = skipSpace(p, i+1)
		if i >= len(p) {
			return false
		}
		var v fval
		start := i
		switch c := p[i]; {
		case c == '"':
			s, next, ok := plainString(p, i)
			if !ok {
				return false
			}
			v, i = fval{kind: '"', raw: s}, next
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(p) && (p[j] >= '0' && p[j] <= '9' || p[j] == '.' || p[j] == 'e' || p[j] == 'E' || p[j] == '+' || p[j] == '-') {
				j++
			}
			v, i = fval{kind: '0', raw: p[i:j]}, j
		case c == 't' && hasPrefix(p[i:], "true"):
			v, i = fval{kind: 't'}, i+4
		case c == 'f' && hasPrefix(p[i:], "false"):
			v, i = fval{kind: 'f'}, i+5
		case c == 'n' && hasPrefix(p[i:], "null"):
			v, i = fval{kind: 'n'}, i+4
		default:
			return false // an object or an array
		}
		v.full, v.strs = p[start:i], a
		if !field(key, v) {
			return false
		}
		i = skipSpace(p, i)
		if i >= len(p) {
			return false
		}
		if p[i] == '}' {
			return skipSpace(p, i+1) == len(p)
		}
		if p[i] != ',' {
			return false
		}
		i = skipSpace(p, i+1)
	}
}

// plainString reads the string starting at p[i] == '"'. ok is false for a
// string that needs decoding: escapes, control characters, invalid UTF-8.
// It looks at eight bytes at a time: a reader of the whole log spends
// much of its time in strings.
func plainString(p []byte, i int) (s []byte, next int, ok bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	j := i + 1
	// Skip whole words of plain ASCII: no '"', '\\', control character or
	// byte of 0x80 and above. A word with one (or a borrow from one: a
	// false alarm only after a true one) goes to the byte loop.
	for ; j+8 <= len(p); j += 8 {
		w := binary.LittleEndian.Uint64(p[j:])
		quote, backslash := w^(ones*'"'), w^(ones*'\\')
		if ((quote-ones)&^quote|(backslash-ones)&^backslash|(w-ones*0x20)&^w|w)&highs != 0 {
			break
		}
	}
	ascii := true
	for ; j < len(p); j++ {
		switch c := p[j]; {
		case c == '"':
			s = p[i+1 : j]
			return s, j + 1, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, 0, false
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

func hasPrefix(p []byte, s string) bool { return len(p) >= len(s) && string(p[:len(s)]) == s }
