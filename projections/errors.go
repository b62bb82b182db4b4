package projections

import (
	"context"
	"errors"
	"fmt"
)

var (
	// ErrStorage marks a failure of the read-model database itself. It is
	// never poison: the event is redelivered until the write succeeds.
	ErrStorage = errors.New("read model storage failed")
	// ErrUnknownProjection: no projection has that name.
	ErrUnknownProjection = errors.New("unknown projection")
	// ErrBadEvent marks an event a projection cannot decode. After the
	// retries it goes to the poison queue.
	ErrBadEvent = errors.New("undecodable event")

	// ErrFormat: a read model is stored in a format other than the one
	// its projection writes (see Projection.Version). CatchUp rebuilds it.
	ErrFormat = errors.New("read model stored in another format")

	errCorrupt = errors.New("corrupt read-model record")
)

// Error gives context to a failed read-model operation, like
// io/fs.PathError.
type Error struct {
	Op         string // "open", "apply", "commit", "query", ...
	Projection string
	Err        error
}

func (e *Error) Error() string {
	if e.Projection == "" {
		return "projections: " + e.Op + ": " + e.Err.Error()
	}
	return fmt.Sprintf("projections: %s %s: %v", e.Op, e.Projection, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
