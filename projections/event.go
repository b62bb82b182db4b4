package projections

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// Event is a log event on its way to the projections, decoded once with
// the domain's types however many projections look at it. Projections
// only read it.
type Event struct {
	*eventstore.RecordedEvent

	body    any
	bodyErr error
	meta    eventstore.Metadata
	id      int64 // the number after the stream's first '-', if any
	idOK    bool
}

// NewEvent decodes ev for the projections. The Event keeps ev.
func NewEvent(ev *eventstore.RecordedEvent) *Event {
	e := new(Event)
	e.decode(ev)
	return e
}

func (e *Event) decode(ev *eventstore.RecordedEvent) {
	*e = Event{RecordedEvent: ev}
	if len(ev.Metadata) > 0 {
		_ = json.Unmarshal(ev.Metadata, &e.meta, decodeOptions) // metadata is optional: what does not decode is absent
	}
	e.body, e.bodyErr = decodeBody(ev.Type, ev.Data)
	if e.bodyErr != nil {
		e.bodyErr = fmt.Errorf("%w: %s at %d: %w", ErrBadEvent, ev.Type, ev.Position, e.bodyErr)
	}
	if _, rest, ok := strings.Cut(ev.Stream, "-"); ok {
		id, err := strconv.ParseInt(rest, 10, 64)
		e.id, e.idOK = id, err == nil && id > 0
	}
}

// Body returns the event's data as its domain type, as a pointer
// (*domain.AnnotationPosted, ...), or nil for a type the projections do
// not use. Data that does not decode gives an error wrapping ErrBadEvent.
func (e *Event) Body() (any, error) { return e.body, e.bodyErr }

// Metadata returns the conventional metadata of the event.
func (e *Event) Metadata() eventstore.Metadata { return e.meta }

// streamID returns the id of a stream named category-id (video-12 is 12
// of category video), and false if the event's stream is not of that
// category or its id is not a positive integer.
func (e *Event) streamID(category string) (int64, bool) {
	s := e.Stream
	if !e.idOK || len(s) <= len(category) || s[len(category)] != '-' || s[:len(category)] != category {
		return 0, false
	}
	return e.id, true
}

// decodeOptions read JSON as encoding/json does (invalid UTF-8 and
// duplicate names accepted, names matched in any case), with the JSON v2
// implementation: a rebuild decodes every event of the log, and v2 does
// it several times faster than encoding/json (see docs/BENCHMARKS.md).
var decodeOptions = json.JoinOptions(jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true), json.MatchCaseInsensitiveNames(true))

// decodeBody decodes the data of the event types the projections use.
func decodeBody(typ string, data []byte) (any, error) {
	var v any
	switch typ {
	case domain.TypeAnnotationPosted:
		v = new(domain.AnnotationPosted)
	case domain.TypeAnnotationEdited:
		v = new(domain.AnnotationEdited)
	case domain.TypeAnnotationDeleted:
		v = new(domain.AnnotationDeleted)
	case domain.TypeReplyPosted:
		v = new(domain.ReplyPosted)
	case domain.TypeReplyEdited:
		v = new(domain.ReplyEdited)
	case domain.TypeReplyDeleted:
		v = new(domain.ReplyDeleted)
	case domain.TypeViewerJoined:
		v = new(domain.ViewerJoined)
	case domain.TypeViewerLeft:
		v = new(domain.ViewerLeft)
	default:
		return nil, nil
	}
	if err := json.Unmarshal(data, v, decodeOptions); err != nil {
		return nil, err
	}
	return v, nil
}
