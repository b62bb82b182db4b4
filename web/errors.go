package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// requestError is a request refused at the edge, with a message for the
// client.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

var (
	errUnauthorized = &requestError{http.StatusUnauthorized, "sign in first: send Authorization: Bearer <token>"}
	errRateLimited  = &requestError{http.StatusTooManyRequests, "too many attempts, try again in a moment"}
	errUnsupported  = &requestError{http.StatusUnsupportedMediaType, "send a JSON body with Content-Type: application/json"}
	errPanic        = errors.New("handler panicked")
)

// busyRetryAfter is the Retry-After, in seconds, of a sign-in refused
// because every password-hashing slot was taken: hashes take tens of
// milliseconds, so a slot is usually free again well within it.
const busyRetryAfter = "1"

// statusClientClosed answers a request its client cancelled; as in
// nginx's logs, it tells it apart from the server's own failures.
const statusClientClosed = 499

// writeError is the one place where an error becomes an HTTP status and a
// JSON body {"error": "..."}. What is not a known refusal is logged and
// answered 500 "internal error".
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status, msg, field := http.StatusInternalServerError, "internal error", ""
	var re *requestError
	var ve *domain.ValidationError
	var rf *domain.RefusedError
	switch {
	case errors.As(err, &re):
		status, msg = re.status, re.msg
	case errors.As(err, &rf):
		status, msg = refusedStatus(rf), rf.Message
	case errors.As(err, &ve):
		status, msg, field = http.StatusUnprocessableEntity, ve.Field+" "+ve.Message, ve.Field
	case errors.Is(err, domain.ErrUsernameTaken):
		status, msg, field = http.StatusConflict, "username already taken", "username"
	case errors.Is(err, domain.ErrBadCredentials):
		status, msg = http.StatusUnauthorized, "wrong username or password"
	case errors.Is(err, domain.ErrForbidden):
		status, msg = http.StatusForbidden, "forbidden"
	case errors.Is(err, domain.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.Is(err, domain.ErrVideoDeleted):
		status, msg = http.StatusGone, "this video was deleted"
	case errors.Is(err, domain.ErrAnnotationGone):
		status, msg = http.StatusGone, "this annotation was deleted"
	case errors.Is(err, domain.ErrConflict):
		status, msg = http.StatusConflict, "conflicting change, try again"
	case errors.Is(err, auth.ErrBusy):
		status, msg = http.StatusTooManyRequests, "the server is busy checking passwords, try again in a moment"
		w.Header().Set("Retry-After", busyRetryAfter)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away (for example while its sign-in waited for a
		// hashing slot): nothing failed here, and nobody reads the answer.
		status, msg = statusClientClosed, "request cancelled"
	case errors.Is(err, eventstore.ErrUnavailable):
		// The store logs its failure once; a log line per refusal
		// would flood.
		status, msg = http.StatusServiceUnavailable, "storage unavailable"
	default:
		logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	body := map[string]string{"error": msg}
	if field != "" {
		body["field"] = field
	}
	writeJSON(w, status, body)
}

// refusedStatus is the status of a refusal by what it amounts to.
func refusedStatus(rf *domain.RefusedError) int {
	switch {
	case errors.Is(rf, domain.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(rf, domain.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(rf, domain.ErrConflict):
		return http.StatusConflict
	case errors.Is(rf, eventstore.ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
