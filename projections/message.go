package projections

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/videologue/videologue/eventstore"
)

// Metadata keys of an event carried as a watermill message. The payload
// is the event's data; together they hold the whole RecordedEvent, so a
// poisoned message says everything about the event it carried.
const (
	MetaType       = "event_type"
	MetaStream     = "stream"
	MetaRevision   = "revision"
	MetaPosition   = "position"
	MetaRecordedAt = "recorded_at"
	MetaEventMeta  = "event_metadata"
	MetaHash       = "hash"
)

// toMessage carries ev as a watermill message; its UUID is the event id.
func toMessage(ev *eventstore.RecordedEvent) *message.Message {
	id := ev.ID
	if id == "" {
		id = "position-" + strconv.FormatUint(ev.Position, 10)
	}
	msg := message.NewMessage(id, message.Payload(ev.Data))
	msg.Metadata = message.Metadata{
		MetaType:       ev.Type,
		MetaStream:     ev.Stream,
		MetaRevision:   strconv.FormatUint(ev.Revision, 10),
		MetaPosition:   strconv.FormatUint(ev.Position, 10),
		MetaRecordedAt: ev.RecordedAt.UTC().Format(time.RFC3339Nano),
		MetaHash:       hex.EncodeToString(ev.Hash[:]),
	}
	if len(ev.Metadata) > 0 {
		msg.Metadata[MetaEventMeta] = string(ev.Metadata)
	}
	return msg
}

// fromMessage reads the event back from msg.
func fromMessage(msg *message.Message) (*eventstore.RecordedEvent, error) {
	m := msg.Metadata
	pos, err1 := strconv.ParseUint(m.Get(MetaPosition), 10, 64)
	rev, err2 := strconv.ParseUint(m.Get(MetaRevision), 10, 64)
	at, err3 := time.Parse(time.RFC3339Nano, m.Get(MetaRecordedAt))
	if err1 != nil || err2 != nil || err3 != nil || pos == 0 || m.Get(MetaType) == "" {
		return nil, fmt.Errorf("%w: message %s does not carry an event", ErrBadEvent, msg.UUID)
	}
	ev := &eventstore.RecordedEvent{
		ID: msg.UUID, Type: m.Get(MetaType), Stream: m.Get(MetaStream), Revision: rev, Position: pos,
		RecordedAt: at, Data: []byte(msg.Payload),
	}
	if s := m.Get(MetaEventMeta); s != "" {
		ev.Metadata = []byte(s)
	}
	if h, err := hex.DecodeString(m.Get(MetaHash)); err == nil && len(h) == len(ev.Hash) {
		copy(ev.Hash[:], h)
	}
	return ev, nil
}

// messagePosition is the log position a message carries, 0 if none.
func messagePosition(msg *message.Message) uint64 {
	pos, _ := strconv.ParseUint(msg.Metadata.Get(MetaPosition), 10, 64)
	return pos
}
