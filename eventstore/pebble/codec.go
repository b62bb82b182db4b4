package pebble

import (
	"encoding/binary"
	"errors"
	"time"
	"unsafe"

	"github.com/videologue/videologue/eventstore"
)

// Key layout. Stream names never contain 0x00 (ValidateStream rejects
// control characters), so it ends the stream part of an index key.
//
//	'e' firstPos(8, big endian)           -> chunk: consecutive event records
//	's' stream 0x00 firstRev(8, big end.) -> firstPos(8) count(uvarint): one append
//	'm' name                              -> store metadata
//
// Events are stored in chunks: each group commit writes its events as one
// key (split at chunkTarget bytes), so that reading the log costs one
// pebble key per chunk rather than per event, and applying a group costs
// one memtable insert per chunk. An append's events have contiguous
// revisions and positions, so the stream index needs one entry per append.
const (
	prefixEvent  = 'e'
	prefixStream = 's'
	prefixMeta   = 'm'
	chunkTarget  = 128 << 10
)

var keyFormat = []byte("mformat")

const formatVersion = "videologue-log-v2"

func eventKey(pos uint64) []byte {
	var k [9]byte
	k[0] = prefixEvent
	binary.BigEndian.PutUint64(k[1:], pos)
	return k[:]
}

func decodePos(k []byte) uint64 { return binary.BigEndian.Uint64(k[1:9]) }

func streamPrefix(stream string) []byte {
	k := make([]byte, 0, len(stream)+10)
	k = append(k, prefixStream)
	k = append(k, stream...)
	return append(k, 0)
}

func streamKey(stream string, rev uint64) []byte {
	return binary.BigEndian.AppendUint64(streamPrefix(stream), rev)
}

// indexEntry is one append in the stream index: revisions
// firstRev..firstRev+count-1 are at positions firstPos..firstPos+count-1.
type indexEntry struct {
	firstRev, firstPos, count uint64
}

func (e indexEntry) lastRev() uint64 { return e.firstRev + e.count - 1 }

func decodeIndex(k, v []byte) (indexEntry, error) {
	if len(k) < 10 || k[0] != prefixStream || k[len(k)-9] != 0 || len(v) < 9 {
		return indexEntry{}, errCorruptIndex
	}
	n, w := binary.Uvarint(v[8:])
	if w <= 0 || n == 0 {
		return indexEntry{}, errCorruptIndex
	}
	return indexEntry{firstRev: binary.BigEndian.Uint64(k[len(k)-8:]), firstPos: binary.BigEndian.Uint64(v[:8]), count: n}, nil
}

func appendIndexValue(b []byte, firstPos, count uint64) []byte {
	b = binary.BigEndian.AppendUint64(b, firstPos)
	return binary.AppendUvarint(b, count)
}

// Record layout, version 1 (a chunk is uvarint(count) then, per event,
// uvarint(len(record)) record; the event's position is the chunk's first
// position plus its index):
//
//	0x01 | recordedAt unix nanos (8) | revision (8) | hash (32)
//	| len(id) uvarint | id | len(type) uvarint | type | len(stream) uvarint | stream
//	| len(data) uvarint | data | len(metadata) uvarint | metadata
const recordV1 = 1

var (
	errCorrupt      = errors.New("corrupt event record")
	errCorruptIndex = errors.New("corrupt stream index entry")
)

func appendRecord(b []byte, ev *eventstore.RecordedEvent) []byte {
	b = append(b, recordV1)
	b = binary.BigEndian.AppendUint64(b, uint64(ev.RecordedAt.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, ev.Revision)
	b = append(b, ev.Hash[:]...)
	b = appendBytes(b, ev.ID)
	b = appendBytes(b, ev.Type)
	b = appendBytes(b, ev.Stream)
	b = appendBytes(b, ev.Data)
	return appendBytes(b, ev.Metadata)
}

// recordLen is len(appendRecord(nil, ev)).
func recordLen(ev *eventstore.RecordedEvent) int {
	return 49 + fieldLen(len(ev.ID)) + fieldLen(len(ev.Type)) + fieldLen(len(ev.Stream)) +
		fieldLen(len(ev.Data)) + fieldLen(len(ev.Metadata))
}

func fieldLen(n int) int { return uvarintLen(uint64(n)) + n }

func uvarintLen(v uint64) int {
	w := 1
	for ; v >= 0x80; v >>= 7 {
		w++
	}
	return w
}

func appendBytes[T ~string | ~[]byte](b []byte, s T) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// chunkReader walks the records of a chunk without copying.
type chunkReader struct {
	p     []byte
	left  uint64
	pos   uint64 // position of the next record
	first uint64
}

func newChunkReader(firstPos uint64, chunk []byte) (chunkReader, error) {
	n, w := binary.Uvarint(chunk)
	if w <= 0 || n == 0 {
		return chunkReader{}, errCorrupt
	}
	return chunkReader{p: chunk[w:], left: n, pos: firstPos, first: firstPos}, nil
}

// last is the position of the chunk's last event.
func (c *chunkReader) last() uint64 { return c.pos + c.left - 1 }

// next returns the next record and its position; ok is false at the end.
func (c *chunkReader) next() (rec []byte, pos uint64, ok bool, err error) {
	if c.left == 0 {
		if len(c.p) != 0 {
			return nil, 0, false, errCorrupt
		}
		return nil, 0, false, nil
	}
	n, w := uvarint(c.p)
	if w <= 0 || uint64(len(c.p)-w) < n {
		return nil, 0, false, errCorrupt
	}
	rec, pos = c.p[w:w+int(n)], c.pos
	c.p = c.p[w+int(n):]
	c.left--
	c.pos++
	return rec, pos, true, nil
}

// decodeRecord fills ev from rec. The strings and slices of ev alias rec,
// which the caller must own and never modify.
func decodeRecord(rec []byte, pos uint64, ev *eventstore.RecordedEvent) error {
	if len(rec) < recordHead {
		return errCorrupt
	}
	return decodeRecordParts(rec[:recordHead], rec[recordHead:], pos, ev)
}

// recordHead is the length of a record's fixed part.
const recordHead = 49

// decodeRecordParts is decodeRecord for a record whose fixed part (head)
// and variable part (body) lie apart. Only body is aliased.
func decodeRecordParts(head, body []byte, pos uint64, ev *eventstore.RecordedEvent) error {
	if len(head) != recordHead || head[0] != recordV1 {
		return errCorrupt
	}
	ev.Position = pos
	ev.RecordedAt = time.Unix(0, int64(binary.BigEndian.Uint64(head[1:9]))).UTC()
	ev.Revision = binary.BigEndian.Uint64(head[9:17])
	copy(ev.Hash[:], head[17:49])
	p := body
	var fields [5][]byte
	for i := range fields {
		n, w := uvarint(p)
		if w <= 0 || uint64(len(p)-w) < n {
			return errCorrupt
		}
		fields[i] = p[w : w+int(n) : w+int(n)]
		p = p[w+int(n):]
	}
	if len(p) != 0 {
		return errCorrupt
	}
	ev.ID = aliasString(fields[0])
	ev.Type = aliasString(fields[1])
	ev.Stream = aliasString(fields[2])
	ev.Data = nilIfEmpty(fields[3])
	ev.Metadata = nilIfEmpty(fields[4])
	return nil
}

// uvarint is binary.Uvarint with the lengths of most fields, one or two
// bytes, decoded inline.
func uvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	if len(b) > 1 && b[1] < 0x80 {
		return uint64(b[0]&0x7f) | uint64(b[1])<<7, 2
	}
	return binary.Uvarint(b)
}

// aliasString makes a string that shares b's memory: the read path copies
// each page of records into one buffer that is never written again, so a
// page costs a few allocations instead of five per event.
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
