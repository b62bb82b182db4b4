package channels

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// clientError is a refusal whose text is written for the client.
type clientError struct{ reason string }

func (e *clientError) Error() string { return e.reason }

func refuse(format string, args ...any) error {
	return &clientError{reason: fmt.Sprintf(format, args...)}
}

var (
	errUnmatchedTopic = &clientError{"unmatched topic"}
	errBinaryPayload  = &clientError{"binary payloads are not supported"}
	errRateLimited    = &clientError{"too many messages, slow down"}
	errUnknownEvent   = &clientError{"unknown event"}
	errUnavailable    = &clientError{"temporarily unavailable, try again"}
	errTooManyTopics  = &clientError{"too many channels joined on this connection"}
	errVideoNotFound  = &clientError{"video not found"}
	errLoneSurrogate  = &clientError{`text must not escape a lone UTF-16 surrogate (\ud800 to \udfff without its pair)`}
)

// reason is the one place where an error becomes the text a client reads
// in a phx_reply error or a phx_error. Errors the client can act upon say
// what to do; anything else is logged here and reported as an internal
// error, so internal details never reach a client.
func reason(logger *slog.Logger, err error) string {
	var ce *clientError
	var ve *domain.ValidationError
	switch {
	case errors.As(err, &ce):
		return ce.reason
	case errors.As(err, &ve):
		return ve.Field + " " + ve.Message
	case errors.Is(err, domain.ErrNotFound):
		return "not found"
	case errors.Is(err, domain.ErrVideoDeleted):
		return "this video was deleted"
	case errors.Is(err, domain.ErrForbidden):
		return "only the author may change this annotation"
	case errors.Is(err, domain.ErrReplyToReply):
		return "parent_id is a reply: replies are one level deep, answer its annotation"
	case errors.Is(err, domain.ErrAnnotationGone):
		return "this annotation was deleted"
	case errors.Is(err, domain.ErrConflict):
		return "too many concurrent changes, try again"
	case errors.Is(err, eventstore.ErrUnavailable):
		return "storage unavailable" // the store logs its failure once
	case errors.Is(err, eventstore.ErrClosed), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		logger.Warn("request not completed", "err", err)
		return errUnavailable.reason
	default:
		logger.Error("request failed", "err", err)
		return "internal error"
	}
}
