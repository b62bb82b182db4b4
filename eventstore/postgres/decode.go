package postgres

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/videologue/videologue/eventstore"
)

// columnOIDs are the types of the columns every read selects (columns), in
// order.
var columnOIDs = [...]uint32{pgtype.Int8OID, pgtype.TextOID, pgtype.Int8OID, pgtype.TextOID, pgtype.TextOID,
	pgtype.ByteaOID, pgtype.ByteaOID, pgtype.TimestamptzOID, pgtype.ByteaOID}

// binaryColumns reports whether a read's rows come as columnOIDs in the
// binary format, which rowDecoder reads. (pgx asks for text columns in the
// text format, whose bytes are the same.)
func binaryColumns(fds []pgconn.FieldDescription) bool {
	if len(fds) != len(columnOIDs) {
		return false
	}
	for i, fd := range fds {
		if fd.DataTypeOID != columnOIDs[i] || fd.Format != pgtype.BinaryFormatCode && fd.DataTypeOID != pgtype.TextOID {
			return false
		}
	}
	return true
}

// postgresEpoch is the zero of a binary timestamptz, which counts
// microseconds from it, in Unix microseconds.
const postgresEpoch = 946684800 * 1_000_000

// rowDecoder turns the binary values of a row into an event without going
// through Scan for each column: a catch-up reads hundreds of thousands of
// rows a second. The few streams and types of one page share their
// strings, and an event's data and metadata share one allocation.
type rowDecoder struct {
	streams, types map[string]string
}

// intern returns s as a string, one per distinct value in m.
func intern(m *map[string]string, b []byte) string {
	if *m == nil {
		*m = make(map[string]string)
	}
	if s, ok := (*m)[string(b)]; ok { // no allocation for the lookup
		return s
	}
	if len(*m) >= 256 { // a page over many streams: stop remembering
		return string(b)
	}
	s := string(b)
	(*m)[s] = s
	return s
}

func (d *rowDecoder) decode(v [][]byte) (eventstore.RecordedEvent, error) {
	var ev eventstore.RecordedEvent
	if len(v[0]) != 8 || len(v[2]) != 8 || len(v[7]) != 8 || v[1] == nil || v[3] == nil || v[4] == nil {
		return ev, fmt.Errorf("event row with a malformed position, revision or time, or a null text")
	}
	pos := int64(binary.BigEndian.Uint64(v[0]))
	if len(v[8]) != 32 {
		return ev, fmt.Errorf("event at position %d has a hash of %d bytes", pos, len(v[8]))
	}
	ev.Position = uint64(pos)
	ev.Stream = intern(&d.streams, v[1])
	ev.Revision = binary.BigEndian.Uint64(v[2])
	ev.ID = string(v[3])
	ev.Type = intern(&d.types, v[4])
	if n := len(v[5]) + len(v[6]); n > 0 {
		buf := make([]byte, n)
		copy(buf, v[5])
		copy(buf[len(v[5]):], v[6])
		ev.Data, ev.Metadata = nilIfEmpty(buf[:len(v[5]):len(v[5])]), nilIfEmpty(buf[len(v[5]):])
	}
	ev.RecordedAt = time.UnixMicro(postgresEpoch + int64(binary.BigEndian.Uint64(v[7]))).UTC()
	ev.Hash = [32]byte(v[8])
	return ev, nil
}
