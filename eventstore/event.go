package eventstore

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"
)

// MaxEventSize is the largest event a store accepts: the sum of its type,
// data and metadata lengths.
const MaxEventSize = 1 << 20

// MaxStreamNameLen bounds a stream name.
const MaxStreamNameLen = 256

// AllStream names the whole log where a stream name is expected
// (subscriptions and reads of everything). It is not a valid append target.
const AllStream = "$all"

// EventData is an event to append. ID may be empty; the store assigns a
// random UUID. A caller-supplied ID should be unique: the PostgreSQL backend
// refuses a duplicate with ErrInvalidEvent, the embedded one does not look.
// Type and ID are printable UTF-8 (no control characters).
type EventData struct {
	ID       string
	Type     string
	Data     json.RawMessage
	Metadata json.RawMessage
}

// Size is the number of bytes the event counts against MaxEventSize.
func (e EventData) Size() int { return len(e.Type) + len(e.Data) + len(e.Metadata) + len(e.ID) }

// RecordedEvent is an event as the log holds it.
type RecordedEvent struct {
	ID         string
	Type       string
	Stream     string
	Revision   uint64    // position within Stream, from 0 without holes
	Position   uint64    // global position in the log, from 1, strictly increasing
	RecordedAt time.Time // the server's clock; PostgreSQL keeps microseconds
	Data       json.RawMessage
	Metadata   json.RawMessage
	// Hash chains the log for tamper evidence: SHA-256 over this event's
	// content and the previous event's Hash (see ChainHash). Zero where a
	// backend does not keep a chain.
	Hash [32]byte
}

// Metadata is the conventional content of an event's metadata: who caused
// it, from where, and the correlation chain. Every field is optional.
type Metadata struct {
	UserID        string `json:"user_id,omitempty"`
	ConnectionID  string `json:"connection_id,omitempty"`
	ClientAddr    string `json:"client_addr,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
}

// Encode returns m as JSON, or nil when m is empty.
func (m Metadata) Encode() json.RawMessage {
	if m == (Metadata{}) {
		return nil
	}
	b, _ := json.Marshal(m) // a struct of strings always marshals
	return b
}

// DecodeMetadata reads the conventional fields of raw; unknown fields and
// malformed metadata give the zero Metadata.
func DecodeMetadata(raw json.RawMessage) Metadata {
	var m Metadata
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	return m
}

// NewID returns a version 7 UUID (RFC 9562): the Unix time in
// milliseconds, then 74 random bits. IDs made later sort later, so a
// store's index of them grows at its right edge instead of splitting
// pages all over (on PostgreSQL that was about 40% of an insert's cost);
// the time they show is the one the event records anyway.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[6:])
	ms := uint64(time.Now().UnixMilli())
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
