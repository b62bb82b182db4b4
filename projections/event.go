package projections

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// Event is a log event on its way to the projections. Its data and
// metadata are decoded once, however many projections look at it. It is
// used by one goroutine at a time.
type Event struct {
	*eventstore.RecordedEvent

	meta     eventstore.Metadata
	metaDone bool
	body     any
	bodyErr  error
	bodyDone bool
	strs     *strArena  // where decoded strings go; nil: each its own
	bodies   *bodySlabs // where decoded bodies go; nil: each its own
	// The number after the first '-' of the stream's name (see
	// streamID), parsed once: every partition of a partitioned
	// projection asks.
	id     int64
	idOK   bool
	idDone bool
}

// NewEvent wraps ev for the projections.
func NewEvent(ev *eventstore.RecordedEvent) *Event { return &Event{RecordedEvent: ev} }

// decode decodes the event's data and metadata now rather than when a
// projection first asks: a rebuild's reader does it on its own core.
// Everything is parsed before the event is shared: the appliers only
// read it.
func (e *Event) decode() {
	e.Body()
	e.Metadata()
	e.parseStreamID()
}

// parseStreamID parses, once, the number after the first '-' of the
// event's stream name.
func (e *Event) parseStreamID() {
	if e.idDone {
		return
	}
	if _, rest, ok := strings.Cut(e.Stream, "-"); ok {
		id, err := strconv.ParseInt(rest, 10, 64)
		e.id, e.idOK = id, err == nil && id > 0
	}
	e.idDone = true
}

// streamID returns the id of a stream named category-id (video-12 is
// 12 of category video), and false if the event's stream is not of
// that category or its id is not a positive integer.
func (e *Event) streamID(category string) (int64, bool) {
	e.parseStreamID()
	s := e.Stream
	if !e.idOK || len(s) <= len(category) || s[len(category)] != '-' || s[:len(category)] != category {
		return 0, false
	}
	return e.id, true
}

// Metadata returns the conventional metadata of the event (see
// eventstore.DecodeMetadata).
func (e *Event) Metadata() eventstore.Metadata {
	if !e.metaDone {
		e.meta, e.metaDone = decodeMetadataIn(e.RecordedEvent.Metadata, e.strs), true
	}
	return e.meta
}

// Body returns the event's data decoded as its domain type, as a pointer
// (*domain.AnnotationPosted, ...), or nil for a type the projections do
// not know. Data that does not decode gives an error wrapping
// ErrBadEvent.
func (e *Event) Body() (any, error) {
	if !e.bodyDone {
		e.body, e.bodyErr = decodeBodyIn(e.Type, e.Data, e.strs, e.bodies)
		if e.bodyErr != nil {
			e.bodyErr = fmt.Errorf("%w: %s at %d: %w", ErrBadEvent, e.Type, e.Position, e.bodyErr)
		}
		e.bodyDone = true
	}
	return e.body, e.bodyErr
}

func decodeBody(typ string, data []byte) (any, error) { return decodeBodyIn(typ, data, nil, nil) }

// bodySlabs holds the decoded bodies of a page's events, of the types
// most events are, in slices that serve page after page, instead of
// allocating each: a rebuild decodes a million. Each slice is made with
// room for a whole page, so that what take hands out never moves.
type bodySlabs struct {
	posted  []domain.AnnotationPosted
	edited  []domain.AnnotationEdited
	deleted []domain.AnnotationDeleted
	joined  []domain.ViewerJoined
	left    []domain.ViewerLeft
}

func newBodySlabs(n int) *bodySlabs {
	return &bodySlabs{posted: make([]domain.AnnotationPosted, 0, n), edited: make([]domain.AnnotationEdited, 0, n),
		deleted: make([]domain.AnnotationDeleted, 0, n), joined: make([]domain.ViewerJoined, 0, n), left: make([]domain.ViewerLeft, 0, n)}
}

// reset makes the slabs free for reuse: whoever resets them must be
// done with every body they hold.
func (b *bodySlabs) reset() {
	b.posted, b.edited, b.deleted, b.joined, b.left = b.posted[:0], b.edited[:0], b.deleted[:0], b.joined[:0], b.left[:0]
}

// noSlabs has no room: take allocates each body, and never writes it.
var noSlabs bodySlabs

// take returns a zero T from s, or a new one when s is full.
func take[T any](s *[]T) *T {
	if len(*s) == cap(*s) {
		return new(T)
	}
	var zero T
	*s = append(*s, zero)
	return &(*s)[len(*s)-1]
}

// decodeBodyIn is decodeBody with its strings in a and its body in b.
func decodeBodyIn(typ string, data []byte, a *strArena, b *bodySlabs) (any, error) {
	if b == nil {
		b = &noSlabs
	}
	switch typ {
	case domain.TypeAnnotationPosted:
		x := take(&b.posted)
		return x, unmarshal(data, a, x, func(k []byte, v fval) bool {
			switch string(k) {
			case "user_id":
				return v.int(&x.UserID)
			case "username":
				return v.str(&x.Username)
			case "body":
				return v.str(&x.Body)
			case "at":
				return v.int(&x.At)
			}
			return false
		})
	case domain.TypeAnnotationEdited:
		x := take(&b.edited)
		return x, unmarshal(data, a, x, func(k []byte, v fval) bool {
			switch string(k) {
			case "annotation_id":
				return v.int(&x.AnnotationID)
			case "user_id":
				return v.int(&x.UserID)
			case "body":
				return v.str(&x.Body)
			}
			return false
		})
	case domain.TypeAnnotationDeleted:
		x := take(&b.deleted)
		return x, unmarshal(data, a, x, func(k []byte, v fval) bool {
			switch string(k) {
			case "annotation_id":
				return v.int(&x.AnnotationID)
			case "user_id":
				return v.int(&x.UserID)
			}
			return false
		})
	case domain.TypeViewerJoined:
		x := take(&b.joined)
		return x, unmarshal(data, a, x, func(k []byte, v fval) bool {
			switch string(k) {
			case "user_id":
				return v.int(&x.UserID)
			case "username":
				return v.str(&x.Username)
			case "connection_id":
				return v.str(&x.ConnectionID)
			case "node":
				return v.str(&x.Node)
			case "device":
				return v.str(&x.Device)
			case "at":
				return v.time(&x.At)
			}
			return false
		})
	case domain.TypeViewerLeft:
		x := take(&b.left)
		return x, unmarshal(data, a, x, func(k []byte, v fval) bool {
			switch string(k) {
			case "user_id":
				return v.int(&x.UserID)
			case "connection_id":
				return v.str(&x.ConnectionID)
			case "node":
				return v.str(&x.Node)
			case "reason":
				return v.str(&x.Reason)
			case "at":
				return v.time(&x.At)
			}
			return false
		})
	case domain.TypeUserRegistered:
		x := new(domain.UserRegistered)
		return x, json.Unmarshal(data, x)
	case domain.TypeRoleGranted:
		x := new(domain.RoleGranted)
		return x, json.Unmarshal(data, x)
	case domain.TypeVideoAdded:
		x := new(domain.VideoAdded)
		return x, json.Unmarshal(data, x)
	}
	return nil, nil
}

// unmarshal decodes data into v with the flat reader, or with
// encoding/json where that cannot.
func unmarshal(data []byte, a *strArena, v any, field func(k []byte, v fval) bool) error {
	if flatObjectIn(data, a, field) {
		return nil
	}
	reflect.ValueOf(v).Elem().SetZero() // forget what the flat reader set
	return json.Unmarshal(data, v)
}

func decodeMetadata(raw []byte) eventstore.Metadata { return decodeMetadataIn(raw, nil) }

// decodeMetadataIn is decodeMetadata with its strings in a.
func decodeMetadataIn(raw []byte, a *strArena) eventstore.Metadata {
	var m eventstore.Metadata
	if len(raw) == 0 {
		return m
	}
	ok := flatObjectIn(raw, a, func(k []byte, v fval) bool {
		switch string(k) {
		case "user_id":
			return v.str(&m.UserID)
		case "connection_id":
			return v.str(&m.ConnectionID)
		case "client_addr":
			return v.str(&m.ClientAddr)
		case "correlation_id":
			return v.str(&m.CorrelationID)
		case "causation_id":
			return v.str(&m.CausationID)
		}
		return false
	})
	if ok {
		return m
	}
	return eventstore.DecodeMetadata(raw)
}
