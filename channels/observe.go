package channels

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// Observer is told what the socket does, for metrics. Its methods are
// called from many goroutines, some while a hub's lock is held: they must
// be fast, safe for concurrent use, and never call back into the server.
// Every argument but the counts is one of a few constants, so that an
// implementation can resolve its counters once and only add to them.
type Observer interface {
	// Connect: a connection request of transport t was admitted (OK: the
	// connection is open from now until Disconnected) or refused.
	Connect(t Transport, o Outcome)
	// Disconnected: a connection that Connect admitted has ended.
	Disconnected(t Transport)
	// Join: a phx_join was answered with o.
	Join(o Outcome)
	// Push: a client push of event e was answered with o. Frames refused
	// before their event could be read count as PushOther.
	Push(e PushEvent, o Outcome)
	// CatchUpPage: a page of a join's catch-up was enqueued, holding this
	// many annotations (posted, updated and deleted ones) in this many
	// bytes of payload.
	CatchUpPage(annotations, bytes int)
	// Broadcast: one event of a video was enqueued to n subscriptions.
	Broadcast(n int)
	// QueueDropped: a connection was disconnected for a full queue.
	QueueDropped()
}

// Transport is how a client is connected.
type Transport uint8

const (
	WebSocket Transport = iota
	LongPoll
	NumTransports // the number of transports, for arrays indexed by them
)

func (t Transport) String() string {
	if t == LongPoll {
		return "longpoll"
	}
	return "websocket"
}

// Outcome is how a request ended: OK, or the class of its refusal. The
// classes are few, so that what is labelled by them stays bounded.
type Outcome uint8

const (
	OK                 Outcome = iota
	RefusedValidation          // malformed or invalid: the client must change the request
	RefusedRateLimit           // a rate or a quota (pushes, joins, frames, channels, sockets)
	RefusedAuth                // no token, or a token that is not valid
	RefusedForbidden           // authenticated, but not allowed (origin, author only)
	RefusedNotFound            // no such video, annotation or topic
	RefusedUnavailable         // try again: storage, shutting down, a conflict, a timeout
	RefusedOther               // an internal error
	NumOutcomes                // the number of outcomes, for arrays indexed by them
)

var outcomeNames = [NumOutcomes]string{"ok", "validation", "rate_limit", "auth", "forbidden", "not_found", "unavailable", "other"}

func (o Outcome) String() string {
	if o >= NumOutcomes {
		return "other"
	}
	return outcomeNames[o]
}

// PushEvent is the event of a client push.
type PushEvent uint8

const (
	PushNewAnnotation PushEvent = iota
	PushEditAnnotation
	PushDeleteAnnotation
	PushVideoDuration
	PushNewReply
	PushEditReply
	PushDeleteReply
	PushOther // any other event, and frames refused before their event was read
	NumPushEvents
)

var pushEventNames = [NumPushEvents]string{"new_annotation", "edit_annotation", "delete_annotation", "video_duration", "new_reply", "edit_reply", "delete_reply", "other"}

func (e PushEvent) String() string {
	if e >= NumPushEvents {
		return "other"
	}
	return pushEventNames[e]
}

func pushEventOf(event string) PushEvent {
	switch event {
	case "new_annotation":
		return PushNewAnnotation
	case "edit_annotation":
		return PushEditAnnotation
	case "delete_annotation":
		return PushDeleteAnnotation
	case "video_duration":
		return PushVideoDuration
	case "new_reply":
		return PushNewReply
	case "edit_reply":
		return PushEditReply
	case "delete_reply":
		return PushDeleteReply
	}
	return PushOther
}

// outcomeOf classifies a refusal as reason (errors.go) words it. Most
// refusals are a *clientError, classified without unwrapping (and without
// allocating).
func outcomeOf(err error) Outcome {
	if err == nil {
		return OK
	}
	if ce, ok := err.(*clientError); ok {
		return clientOutcome(ce)
	}
	return wrappedOutcome(err)
}

func clientOutcome(ce *clientError) Outcome {
	switch ce {
	case errRateLimited, errJoinRateLimited, errTooManyTopics:
		return RefusedRateLimit
	case errUnmatchedTopic, errVideoNotFound:
		return RefusedNotFound
	case errUnavailable:
		return RefusedUnavailable
	}
	return RefusedValidation
}

func wrappedOutcome(err error) Outcome {
	var ce *clientError
	var ve *domain.ValidationError
	var rw *historyRewoundError
	switch {
	case errors.As(err, &ce):
		return clientOutcome(ce)
	case errors.As(err, &ve), errors.As(err, &rw):
		return RefusedValidation
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrVideoDeleted), errors.Is(err, domain.ErrAnnotationGone):
		return RefusedNotFound
	case errors.Is(err, domain.ErrForbidden):
		return RefusedForbidden
	case errors.Is(err, domain.ErrConflict), errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, eventstore.ErrClosed),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return RefusedUnavailable
	}
	return RefusedOther
}

// observeRefusal tells the observer that frame f was refused with err.
func (c *conn) observeRefusal(f *inbound, err error) {
	if f.event == "phx_join" {
		c.srv.cfg.Observer.Join(outcomeOf(err))
		return
	}
	c.srv.cfg.Observer.Push(pushEventOf(f.event), outcomeOf(err))
}

// requestTransport is the transport a connection request asks for.
func requestTransport(r *http.Request) Transport {
	if strings.HasSuffix(r.URL.Path, "/longpoll") {
		return LongPoll
	}
	return WebSocket
}

type nopObserver struct{}

func (nopObserver) Connect(Transport, Outcome) {}
func (nopObserver) Disconnected(Transport)     {}
func (nopObserver) Join(Outcome)               {}
func (nopObserver) Push(PushEvent, Outcome)    {}
func (nopObserver) CatchUpPage(int, int)       {}
func (nopObserver) Broadcast(int)              {}
func (nopObserver) QueueDropped()              {}

// refuseUnaddressed refuses a frame that cannot be answered on its own
// topic, with a phx_error on "phoenix".
func (c *conn) refuseUnaddressed(o Outcome, reason string) {
	c.srv.cfg.Observer.Push(PushOther, o)
	c.pushError(reason)
}

// connectOutcome classifies the HTTP status of a refused authentication.
func connectOutcome(code int) Outcome {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return RefusedAuth
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return RefusedUnavailable
	case http.StatusTooManyRequests:
		return RefusedRateLimit
	}
	return RefusedOther
}
