package projections

import (
	"encoding/binary"
	"time"
)

// Records are stored in a compact binary form rather than JSON: a
// rebuild writes millions of them and an as-of-T query reads a hundred
// thousand. Each record type has an encode (appending to a buffer) and a
// decode (through dec) with its fields in a fixed order; a new field is
// appended at the end and decodes as zero from older records.

type enc []byte

func (e enc) u(v uint64) enc    { return binary.AppendUvarint(e, v) }
func (e enc) i(v int64) enc     { return binary.AppendVarint(e, v) }
func (e enc) t(t time.Time) enc { return e.u(timeKey(t)) }
func (e enc) s(s string) enc {
	e = binary.AppendUvarint(e, uint64(len(s)))
	return append(e, s...)
}
func (e enc) b(v bool) enc {
	if v {
		return append(e, 1)
	}
	return append(e, 0)
}

// dec reads a record; the first malformed field makes err sticky and
// every later read zero. Reading past the end gives zeros without error,
// so that records written before a field was added still decode.
type dec struct {
	p   []byte
	err error
}

func (d *dec) u() uint64 {
	if d.err != nil || len(d.p) == 0 {
		return 0
	}
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *dec) i() int64 {
	if d.err != nil || len(d.p) == 0 {
		return 0
	}
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *dec) t() time.Time { return keyTime(d.u()) }

func (d *dec) s() string {
	n := d.u()
	if d.err != nil || n == 0 {
		return ""
	}
	if uint64(len(d.p)) < n {
		d.err = errCorrupt
		return ""
	}
	s := string(d.p[:n])
	d.p = d.p[n:]
	return s
}

func (d *dec) b() bool {
	if d.err != nil || len(d.p) == 0 {
		return false
	}
	v := d.p[0]
	d.p = d.p[1:]
	return v != 0
}
