package channels

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// hubBuffer is the subscriptions' buffer: the hub never blocks while
// consuming, so this only absorbs bursts.
const hubBuffer = 1024

// run is the hub's goroutine: it follows the video's two streams, folds
// and delivers what they bring, and owns the hub's timers (presence
// diffs, reaction windows, lingering once the last viewer left).
func (h *hub) run(ctx context.Context) {
	logger := h.srv.logger.With("video_id", h.videoID)
	videos, viewers := domain.VideoStream(h.videoID), domain.ViewersStream(h.videoID)
	vsub, err := h.subscribe(ctx, videos, h.rev)
	if err != nil {
		h.fail(err)
		return
	}
	defer func() { vsub.Close() }()
	psub, err := h.subscribe(ctx, viewers, -1)
	if err != nil {
		h.fail(err)
		return
	}
	defer func() { psub.Close() }()

	var flush *time.Timer
	var flushC <-chan time.Time
	var flushed time.Time // when the last presence_diff went out
	var linger *time.Timer
	var lingerC <-chan time.Time
	var reactT *time.Timer
	var reactC <-chan time.Time
	defer func() {
		if flush != nil {
			flush.Stop()
		}
		if reactT != nil {
			reactT.Stop()
		}
		if linger != nil {
			linger.Stop()
		}
	}()
	for {
		select {
		case m, ok := <-vsub.Messages():
			if !ok {
				next, err := h.resume(ctx, vsub, videos, h.rev)
				if err != nil {
					h.fail(err)
					return
				}
				vsub = next
				continue
			}
			if h.onVideo(ctx, m, logger) {
				// Connections that take writes queue deep: the flusher is
				// behind. Let it catch up before fanning out more, rather
				// than have their queues overflow and healthy clients cut
				// as too slow. The events wait in the log meanwhile.
				if err := h.srv.flusher.drained(ctx); err != nil {
					h.fail(errUnavailable)
					return
				}
			}
			if reactC == nil && h.mod.reacts.armed.Swap(false) {
				reactT = time.NewTimer(h.srv.cfg.ReactionWindow)
				reactC = reactT.C
			}
		case <-reactC:
			reactC = nil
			h.flushReactions()
		case m, ok := <-psub.Messages():
			if !ok {
				next, err := h.resume(ctx, psub, viewers, h.pres.rev)
				if err != nil {
					h.fail(err)
					return
				}
				psub = next
				continue
			}
			if due, viewers := h.onViewers(ctx, m, logger); due && flushC == nil {
				flush = time.NewTimer(h.presenceDelay(viewers, flushed))
				flushC = flush.C
			}
		case <-flushC:
			flushC = nil
			h.flush()
			flushed = time.Now()
		case <-h.idle:
			if linger == nil {
				linger = time.NewTimer(h.srv.cfg.HubLinger)
			} else {
				linger.Reset(h.srv.cfg.HubLinger)
			}
			lingerC = linger.C
		case <-lingerC:
			lingerC = nil
			if h.srv.hubs.retire(h, false) {
				h.fail(errUnavailable)
				return
			}
		case <-ctx.Done():
			h.srv.hubs.retire(h, true)
			h.fail(errUnavailable)
			return
		}
	}
}

func (h *hub) subscribe(ctx context.Context, stream string, after int64) (*eventstore.Subscription, error) {
	from := eventstore.Start()
	if after >= 0 {
		from = eventstore.After(uint64(after))
	}
	sub, err := h.srv.deps.Store.SubscribeToStream(ctx, stream, from, eventstore.SubscribeOptions{Buffer: hubBuffer})
	if err != nil {
		return nil, fmt.Errorf("hub %d: subscribe %s: %w", h.videoID, stream, err)
	}
	return sub, nil
}

// resume replaces a subscription that ended: one the store dropped for
// lagging continues after the last revision applied; any other end is the
// hub's end.
func (h *hub) resume(ctx context.Context, sub *eventstore.Subscription, stream string, after int64) (*eventstore.Subscription, error) {
	err := sub.Err()
	if ctx.Err() != nil {
		return nil, errUnavailable
	}
	if !errors.Is(err, eventstore.ErrSubscriberTooSlow) {
		if err == nil {
			err = errors.New("subscription ended")
		}
		return nil, fmt.Errorf("hub %d: %s: %w", h.videoID, stream, err)
	}
	h.srv.logger.Warn("hub subscription lagged; resuming", "video_id", h.videoID, "stream", stream, "after", after)
	return h.subscribe(ctx, stream, after)
}
