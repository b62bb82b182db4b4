package channels

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/personal"
)

// hub is the meeting point of one video's subscriptions in this process. One
// goroutine (run) follows the video's two streams and is the only writer
// of the fold; subscriptions join and leave under mu, which also orders every
// delivery, so a subscription gets exactly the events after the state its join
// reply showed.
type hub struct {
	srv     *Server
	videoID int64
	topic   string
	cancel  context.CancelFunc
	refs    int           // guarded by srv.hubs.mu
	idle    chan struct{} // poked when refs drops to zero

	ready     chan struct{} // closed once both streams caught up, or on failure
	mu        sync.Mutex
	readyDone bool
	failed    error
	vCaught   bool
	pCaught   bool
	rev       int64         // last video revision applied, -1 none
	advanced  chan struct{} // closed when rev moves or the hub fails, for await; nil when nobody waits
	ann       domain.Annotations
	changes   []change // edits, deletes, hides and reactions, in revision order
	mod       modState // moderation and reactions (moderation.go, reactions.go)
	// moderatorsOnly: the push fold just returned is for moderators alone.
	moderatorsOnly bool
	pres           *presence
	enc            encoded
	lastReply      lastReply
	subscriptions  map[*subscription]struct{}
}

func newHub(s *Server, videoID int64, cancel context.CancelFunc) *hub {
	return &hub{
		srv: s, videoID: videoID, topic: "videos:" + strconv.FormatInt(videoID, 10), cancel: cancel,
		idle: make(chan struct{}, 1), ready: make(chan struct{}), rev: -1,
		pres: newPresence(), subscriptions: make(map[*subscription]struct{}),
	}
}

// onVideo folds one message of the video stream and delivers the event to
// every subscription. It reports whether a subscription that takes writes has its
// queue filling (see conn.fanOut).
func (h *hub) onVideo(ctx context.Context, m eventstore.Message, logger *slog.Logger) (deep bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m.CaughtUp {
		h.vCaught = true
		h.maybeReady()
		return false
	}
	ev := m.Event
	if int64(ev.Revision) <= h.rev {
		return false
	}
	h.rev = int64(ev.Revision)
	h.wakeAwaiters()
	event, payload, err := h.fold(ctx, ev, h.rev+1)
	only := h.moderatorsOnly
	h.moderatorsOnly = false
	if err != nil {
		logger.Error("undecodable event skipped", "stream", ev.Stream, "revision", ev.Revision, "err", err)
		return false
	}
	sent := 0
	b := broadcast{topic: h.topic, event: event, payload: payload}
	for s := range h.subscriptions {
		if s.catchUp != nil || h.rev <= s.lastRev { // its history comes first; or already in what it was given
			continue
		}
		s.lastRev = h.rev
		if payload != nil && (!only || s.stillModerator(ctx)) {
			deep = s.c.fanOut(b.to(s.joinRef)) || deep
			sent++
		}
	}
	if payload != nil {
		h.srv.cfg.Observer.Broadcast(sent)
	}
	return deep
}

// change is an edit or delete of annotation id at client revision rev.
type change struct{ rev, id int64 }

// fold applies ev, which brings the video to client revision rev (see
// joinPage), to the annotations and returns what to push, if any. Each
// payload is encoded once, carries rev, and is shared by every subscription.
// Sealed names and texts are opened here: the fold holds them readable.
func (h *hub) fold(ctx context.Context, ev *eventstore.RecordedEvent, rev int64) (event string, payload []byte, err error) {
	keys := h.srv.deps.Keys
	switch ev.Type {
	case domain.TypeAnnotationPosted:
		var e domain.AnnotationPosted
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return "", nil, err
		}
		if err := h.openNameBody(ctx, e.UserID, &e.Username, &e.Body); err != nil {
			return "", nil, err
		}
		a := h.ann.Posted(h.videoID, ev.Revision, e, ev.RecordedAt)
		j := annotationJSONBytes(a)
		h.enc.keep(a.ID, j)
		return "new_annotation", withRev(j, h.pushRev(rev)), nil
	case domain.TypeAnnotationEdited:
		var e domain.AnnotationEdited
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return "", nil, err
		}
		if e.Body, err = keys.Open(ctx, e.UserID, personal.Body, e.Body); err != nil {
			return "", nil, err
		}
		if a := h.ann.Edited(e, ev.RecordedAt); a != nil {
			return h.edited("annotation_updated", a, rev)
		}
	case domain.TypeAnnotationDeleted:
		var e domain.AnnotationDeleted
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return "", nil, err
		}
		if a := h.ann.Deleted(e); a != nil {
			return h.deleted("annotation_deleted", a, rev)
		}
	default:
		if isModeration(ev.Type) {
			return h.foldModeration(ev, rev)
		}
		return h.foldReply(ctx, ev, rev)
	}
	return "", nil, nil
}

// edited records the edit of item a at rev and returns event's push of
// it, or none for a hidden item: its text reaches its author in catch-up
// only.
func (h *hub) edited(event string, a *domain.Annotation, rev int64) (string, []byte, error) {
	h.changes = append(h.changes, change{rev: rev, id: a.ID})
	h.enc.keep(a.ID, itemJSONBytes(a))
	if h.isHidden(a.ID) {
		return "", nil, nil
	}
	return event, withRev(h.annBytes(a), h.pushRev(rev)), nil
}

// deleted records the deletion of item a at rev and returns event's push.
func (h *hub) deleted(event string, a *domain.Annotation, rev int64) (string, []byte, error) {
	h.changes = append(h.changes, change{rev: rev, id: a.ID})
	h.enc.forget(a.ID)
	return event, idRevPayload(a.ID, h.pushRev(rev)), nil
}

// onViewers folds one message of the viewers stream and reports whether a
// presence_diff is due, and to how many subscriptions.
func (h *hub) onViewers(ctx context.Context, m eventstore.Message, logger *slog.Logger) (due bool, viewers int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m.CaughtUp {
		h.pCaught = true
		h.maybeReady()
		return false, 0
	}
	changed, err := h.pres.apply(ctx, h.srv.deps.Keys, m.Event)
	if err != nil {
		logger.Error("undecodable event skipped", "stream", m.Event.Stream, "revision", m.Event.Revision, "err", err)
	}
	return changed && h.readyDone, len(h.subscriptions)
}

func (h *hub) maybeReady() {
	if h.readyDone || !h.vCaught || !h.pCaught {
		return
	}
	h.erasedAtLoad()
	h.pres.publishAll()
	h.readyDone = true
	close(h.ready)
}

// join registers s once the hub is ready. Under the lock, it enqueues the
// join reply (ref) with the first page of what the client lacks (see
// catchUp), then the presence_state, so that nothing for s can precede
// them. The rest of the history follows as pushes (see paging), then
// caught_up, then every event after the state caught_up reflects.
func (h *hub) join(ctx context.Context, s *subscription, ref string, p joinParams) error {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return errUnavailable
	}
	if err := h.checkRewound(ctx, p); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failed != nil {
		return errUnavailable
	}
	// A client without last_seen_rev (the book's recipe) has applied at
	// least the revision that posted lastSeen, which is lastSeen itself
	// (an annotation's id is the client revision of its post): it gets
	// the changes since, some of which it may have had, the same state
	// again.
	cu := &catchUp{id: p.lastSeen, base: p.lastSeen, next: -1, viewer: s.c.user.id}
	if p.hasRev {
		cu.base = p.lastRev
	}
	reply, done := h.joinReply(cu)
	s.c.send(outMsg{joinRef: s.joinRef, ref: ref, topic: h.topic, event: "phx_reply", payload: reply})
	state := outMsg{joinRef: s.joinRef, topic: h.topic, event: "presence_state", payload: h.pres.statePayload()}
	if s.c.deflate {
		state.deflated = h.pres.stateDeflated()
	}
	s.c.send(state)
	s.catchUp = cu
	h.subscriptions[s] = struct{}{}
	if done {
		h.caughtUp(s)
		return nil
	}
	s.stop, s.paged = make(chan struct{}), make(chan struct{})
	go s.paging(s.stop, s.paged)
	return nil
}

// replyEnvelope is room left in a join reply's page for what surrounds
// its annotations, so that the whole frame stays within PageBytes.
const replyEnvelope = 256

// remove unregisters s: once it returns, nothing more is sent to s, and
// its catch-up, if any, has ended.
func (h *hub) remove(s *subscription) {
	h.mu.Lock()
	delete(h.subscriptions, s)
	stop, paged := s.stop, s.paged
	s.stop = nil
	h.mu.Unlock()
	if stop != nil {
		close(stop)
		<-paged
	}
}

// mayChange refuses, from the hub's fold and without reading the log, a
// change of annotation id by userID that can never be allowed: the
// annotation is deleted (domain.ErrAnnotationGone) or another user's
// (domain.ErrForbidden). Both are final, so a fold that lags the log
// cannot refuse wrongly. Otherwise it returns the video revision as of
// which the fold shows the annotation live and userID's, for the command
// to append at without reading; -1 for an annotation the fold does not
// know yet, which the command checks against the log, as it checks every
// change it makes.
func (h *hub) mayChange(id, userID int64) (seen int64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.ann.Get(id)
	if !ok {
		return -1, nil
	}
	if a.IsReply() { // final too: edit_reply and delete_reply change replies
		return -1, domain.ErrNotFound
	}
	if err := a.CanChange(userID); err != nil {
		return -1, err
	}
	if h.isHidden(id) {
		return -1, errHidden
	}
	return h.rev, nil
}

// fail ends the hub: its subscriptions get phx_error (their clients rejoin,
// with a new hub) and later joins are refused.
func (h *hub) fail(err error) {
	if !errors.Is(err, errUnavailable) {
		h.srv.logger.Error("video hub failed", "video_id", h.videoID, "err", err)
	}
	h.srv.hubs.retire(h, true)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failed == nil {
		h.failed = err
	}
	h.wakeAwaiters()
	for s := range h.subscriptions {
		s.gone.Store(true)
		s.c.send(outMsg{joinRef: s.joinRef, ref: s.joinRef, topic: h.topic, event: "phx_error", payload: errorPayload(errUnavailable.reason)})
	}
	clear(h.subscriptions)
	if !h.readyDone {
		h.readyDone = true
		close(h.ready)
	}
}
