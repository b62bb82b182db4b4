package channels

// A command the fold must allow (a report, a hide, a dismissal, a
// reaction) is checked against the hub's fold brought up to the head of
// the video's stream, and appendChecked appends it only if the stream is
// still where the check saw it.

import (
	"context"
	"errors"
	"fmt"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// checkLocked runs check under the hub's lock once the fold knows item id
// (an id beyond the fold but within the log is waited for), and returns
// the revision the fold is at.
func (h *hub) checkLocked(ctx context.Context, id int64, check func() error) (seen int64, err error) {
	for waited := false; ; waited = true {
		h.mu.Lock()
		if h.failed != nil {
			h.mu.Unlock()
			return 0, errUnavailable
		}
		_, known := h.ann.Get(id)
		if known || waited || int64(domain.RevisionFromID(id)) <= h.rev {
			err := check()
			seen = h.rev
			h.mu.Unlock()
			return seen, err
		}
		h.mu.Unlock()
		head, err := h.streamHead(ctx)
		if err != nil {
			return 0, err
		}
		if int64(domain.RevisionFromID(id)) > head {
			return 0, errItemNotFound
		}
		if err := h.await(ctx, int64(domain.RevisionFromID(id))); err != nil {
			return 0, err
		}
	}
}

// streamHead is the revision of the last event of the video's stream in
// the log, -1 when it has none.
func (h *hub) streamHead(ctx context.Context) (int64, error) {
	r, ok := h.srv.deps.Store.(streamReader)
	if !ok {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.rev, nil
	}
	evs, err := r.ReadStream(ctx, domain.VideoStream(h.videoID), eventstore.Backwards, eventstore.End, 1)
	if err != nil {
		return 0, fmt.Errorf("read video head: %w", err)
	}
	if len(evs) == 0 {
		return -1, nil
	}
	return int64(evs[0].Revision), nil
}

// catchUpToHead returns once the fold has applied every event the
// video's stream holds now.
func (h *hub) catchUpToHead(ctx context.Context) error {
	head, err := h.streamHead(ctx)
	if err != nil {
		return err
	}
	return h.await(ctx, head)
}

// await returns once the fold has applied revision rev of the video's
// stream. The fold follows the log within moments; ctx bounds the wait.
func (h *hub) await(ctx context.Context, rev int64) error {
	for {
		h.mu.Lock()
		at, failed := h.rev, h.failed
		if h.advanced == nil {
			h.advanced = make(chan struct{})
		}
		advanced := h.advanced
		h.mu.Unlock()
		if failed != nil {
			return errUnavailable
		}
		if at >= rev {
			return nil
		}
		select {
		case <-advanced:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// wakeAwaiters tells those in await that the fold moved (or failed).
// h.mu is held.
func (h *hub) wakeAwaiters() {
	if h.advanced != nil {
		close(h.advanced)
		h.advanced = nil
	}
}

// modAttempts bounds the appends of a moderation command that keep
// finding the video's stream moved on by others.
const modAttempts = 32

// appendChecked appends ev to the video's stream if check, run on the
// fold as of the stream's head, allows it: the append expects the stream
// at the revision the check saw, and when it has moved on the fold is
// brought there and the check runs again. So the log never holds a
// report the fold would refuse, whichever connection or node it came from.
//
// A refusal is only made by a fold at the stream's head: one that lags
// the log (a report appended a moment ago by another connection) is first
// brought there, so a dismissal right after a report is not refused.
func (h *hub) appendChecked(ctx context.Context, id int64, check func() error, ev eventstore.EventData) error {
	stream := domain.VideoStream(h.videoID)
	atHead := false
	for range modAttempts {
		seen, err := h.checkLocked(ctx, id, check)
		if err != nil && !atHead {
			if atHead, err = true, h.catchUpToHead(ctx); err == nil {
				continue
			}
		}
		if err != nil {
			return err
		}
		_, err = h.srv.deps.Store.Append(ctx, stream, eventstore.Exact(uint64(seen)), ev)
		var wrong *eventstore.WrongExpectedRevisionError
		if !errors.As(err, &wrong) {
			if err != nil {
				return fmt.Errorf("append %s: %w", ev.Type, err)
			}
			return nil
		}
		if err := h.await(ctx, wrong.Actual); err != nil {
			return err
		}
	}
	return domain.ErrConflict
}
