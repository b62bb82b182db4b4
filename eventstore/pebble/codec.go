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
//	'e' pos(8, big endian)                  -> event record
//	's' stream 0x00 rev(8, big endian)      -> pos(8, big endian)
//	'm' name                                -> store metadata
const (
	prefixEvent  = 'e'
	prefixStream = 's'
	prefixMeta   = 'm'
)

var keyFormat = []byte("mformat")

const formatVersion = "videologue-log-v1"

func eventKey(pos uint64) []byte {
	var k [9]byte
	k[0] = prefixEvent
	binary.BigEndian.PutUint64(k[1:], pos)
	return k[:]
}

func streamPrefix(stream string) []byte {
	k := make([]byte, 0, len(stream)+10)
	k = append(k, prefixStream)
	k = append(k, stream...)
	return append(k, 0)
}

func streamKey(stream string, rev uint64) []byte {
	return binary.BigEndian.AppendUint64(streamPrefix(stream), rev)
}

// decodeStreamKey returns the revision of a stream index key.
func decodeStreamKey(k []byte) (uint64, bool) {
	if len(k) < 10 || k[0] != prefixStream || k[len(k)-9] != 0 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(k)-8:]), true
}

// Record layout, version 1:
//
//	0x01 | recordedAt unix nanos (8) | revision (8) | hash (32)
//	| len(id) uvarint | id | len(type) uvarint | type | len(stream) uvarint | stream
//	| len(data) uvarint | data | len(metadata) uvarint | metadata
const recordV1 = 1

var errCorrupt = errors.New("corrupt event record")

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

func appendBytes[T ~string | ~[]byte](b []byte, s T) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeRecord fills ev from rec. The strings and slices of ev alias rec,
// which the caller must own and never modify.
func decodeRecord(rec []byte, pos uint64, ev *eventstore.RecordedEvent) error {
	if len(rec) < 49 || rec[0] != recordV1 {
		return errCorrupt
	}
	ev.Position = pos
	ev.RecordedAt = time.Unix(0, int64(binary.BigEndian.Uint64(rec[1:9]))).UTC()
	ev.Revision = binary.BigEndian.Uint64(rec[9:17])
	copy(ev.Hash[:], rec[17:49])
	p := rec[49:]
	var fields [5][]byte
	for i := range fields {
		n, w := binary.Uvarint(p)
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

// aliasString makes a string that shares b's memory: the read path copies
// each page of records into one buffer that is never written again, so a
// page costs one allocation instead of five per event.
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
