package kurrentdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// A position packs where an append starts in KurrentDB's log and where the
// event sits in that append (see the package comment):
//
//	position = commit position of the append's first event << indexBits | index
const (
	indexBits = 16
	indexMask = 1<<indexBits - 1
	// maxAppendEvents keeps indexMask itself unused, so that p-1 of the
	// first event of an append never names an event.
	maxAppendEvents = indexMask
	// maxLogPosition is the largest KurrentDB log position a position can
	// hold: 256 TiB of transaction log.
	maxLogPosition = 1<<(64-indexBits) - 1
)

// errPositionRange: a KurrentDB log position beyond maxLogPosition.
var errPositionRange = errors.New("KurrentDB log position beyond what a Videologue position holds (256 TiB of log)")

// pack returns the position of event index of the append whose first event
// is at KurrentDB log position base.
func pack(base uint64, index int) (uint64, error) {
	if base == 0 || base > maxLogPosition || index < 0 || index >= maxAppendEvents {
		return 0, fmt.Errorf("%w: log position %d, index %d", errPositionRange, base, index)
	}
	return base<<indexBits | uint64(index), nil
}

// unpack splits a position into the log position of its append and the
// index in that append.
func unpack(p uint64) (base uint64, index uint64) { return p >> indexBits, p & indexMask }

// envelope is what the store keeps in KurrentDB's custom metadata besides
// the caller's metadata: the event's place in its append, and the caller's
// ID when it is not a canonical UUID (KurrentDB event IDs are UUIDs).
type envelope struct {
	I  int    `json:"i"`
	N  int    `json:"n"`
	ID string `json:"id,omitempty"`
}

// The custom metadata of an event this store appended is exactly
//
//	{"videologue.v1":{"i":I,"n":N[,"id":ID]}[,"metadata":M]}
//
// where M is the caller's metadata byte for byte (valid JSON, so the whole
// is JSON that KurrentDB's UI shows as such). Both prefixes are fixed so
// that decoding recovers M without re-encoding it.
const (
	envelopePrefix = `{"videologue.v1":`
	metadataPrefix = `,"metadata":`
)

// encodeMetadata wraps the caller's metadata meta in env.
func encodeMetadata(env envelope, meta []byte) []byte {
	h, _ := json.Marshal(env) // a struct of ints and a string always marshals
	b := make([]byte, 0, len(envelopePrefix)+len(h)+len(metadataPrefix)+len(meta)+1)
	b = append(b, envelopePrefix...)
	b = append(b, h...)
	if len(meta) > 0 {
		b = append(b, metadataPrefix...)
		b = append(b, meta...)
	}
	return append(b, '}')
}

// decodeMetadata undoes encodeMetadata. ok is false for metadata that this
// store did not write (an event appended by another KurrentDB client):
// such an event is read as an append of its own, with its metadata as is.
func decodeMetadata(b []byte) (env envelope, meta []byte, ok bool) {
	if !bytes.HasPrefix(b, []byte(envelopePrefix)) || b[len(b)-1] != '}' {
		return envelope{}, nil, false
	}
	rest := b[len(envelopePrefix) : len(b)-1]
	dec := json.NewDecoder(bytes.NewReader(rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return envelope{}, nil, false
	}
	tail := rest[dec.InputOffset():]
	switch {
	case len(tail) == 0:
	case bytes.HasPrefix(tail, []byte(metadataPrefix)) && len(tail) > len(metadataPrefix):
		meta = tail[len(metadataPrefix):]
	default:
		return envelope{}, nil, false
	}
	if env.N < 1 || env.N > maxAppendEvents || env.I < 0 || env.I >= env.N {
		return envelope{}, nil, false
	}
	return env, meta, true
}

// idNamespace derives the KurrentDB event ID of a caller ID that is not a
// canonical UUID (a name-based, SHA-1, version 5 UUID in this namespace).
var idNamespace = uuid.MustParse("8a3f2e0c-5b1d-5f7e-9c44-76696465306c")

// eventUUID returns the KurrentDB event ID for the caller's ID, and whether
// the two are the same (id is a UUID in canonical lowercase form). Other IDs
// map deterministically, so that KurrentDB's idempotent-retry check treats
// them as it treats UUIDs; the envelope keeps the original.
func eventUUID(id string) (uuid.UUID, bool) {
	if u, err := uuid.Parse(id); err == nil && u.String() == id {
		return u, true
	}
	return uuid.NewSHA1(idNamespace, []byte(id)), false
}

// parseActual reads the stream's current revision out of the client's
// wrong-expected-version error, whose text is
// "wrong expected version: expecting '<expected>' but got '<current>'"
// (KurrentDB-Client-Go v1.4.2 keeps the server's current revision nowhere
// else). ok is false when the text has another shape.
func parseActual(msg string) (actual int64, ok bool) {
	const marker = "but got '"
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return 0, false
	}
	s := msg[i+len(marker):]
	j := strings.IndexByte(s, '\'')
	if j < 0 {
		return 0, false
	}
	s = s[:j]
	if s == "no_stream" {
		return -1, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
