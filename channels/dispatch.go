package channels

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/internal/limit"
	"github.com/videologue/videologue/personal"
)

// handle runs one inbound frame. It is called by the handler only.
func (c *conn) handle(ctx context.Context, mt int, data []byte) {
	// Every frame counts, whatever it is and whether or not it is
	// answered: a flood of heartbeats, of pushes to topics not joined or
	// of an earlier join costs the server as much as one of pushes.
	if !c.frames.AllowN(c.srv.cfg.Now(), 1) {
		c.refuseFrame(mt, data)
		c.strike()
		return
	}
	if mt != websocket.TextMessage {
		if !c.admitPush() {
			c.srv.cfg.Observer.Push(PushOther, RefusedRateLimit)
			return
		}
		// phoenix.js sends a push whose payload is an ArrayBuffer as a
		// binary frame: answering its own topic and ref fails that push at
		// once, where a phx_error on "phoenix" would leave it to time out.
		if f, ok := peekBinaryPush(data); ok {
			c.replyErr(&f, errBinaryPayload)
		} else {
			c.refuseUnaddressed(RefusedValidation, errBinaryPayload.reason+": send JSON text frames")
		}
		return
	}
	if max := c.srv.cfg.MaxFrameBytes; len(data) > max {
		if !c.admitPush() {
			c.srv.cfg.Observer.Push(PushOther, RefusedRateLimit)
			return
		}
		tooLarge := refuse("message too large: at most %d bytes", max)
		if f, ok := peekFrame(data); ok {
			c.replyErr(&f, tooLarge)
		} else {
			c.refuseUnaddressed(RefusedValidation, tooLarge.Error())
		}
		return
	}
	if !utf8.Valid(data) { // RFC 6455: a text frame is UTF-8; json would silently replace the bytes
		if c.admitPush() {
			c.refuseUnaddressed(RefusedValidation, "frames must be valid UTF-8 text")
		} else {
			c.srv.cfg.Observer.Push(PushOther, RefusedRateLimit)
		}
		return
	}
	f, err := decodeFrame(data)
	if err != nil {
		if c.admitPush() {
			c.refuseUnaddressed(outcomeOf(err), reason(c.log(), err))
		} else {
			c.srv.cfg.Observer.Push(PushOther, RefusedRateLimit)
		}
		return
	}
	switch {
	case f.topic == "phoenix" && f.event == "heartbeat":
		c.reply(&f, okEmpty)
	case f.event == "phx_join":
		if !c.admitJoin() {
			c.replyErr(&f, errJoinRateLimited)
			return
		}
		c.join(ctx, &f)
	case f.event == "phx_leave":
		c.leave(ctx, &f)
	default:
		s := c.subscriptions[f.topic]
		if s != nil && s.gone.Load() { // its hub failed; the client will rejoin
			c.endSubscription(ctx, s, "disconnected")
			s = nil
		}
		if s == nil {
			c.observeRefusal(&f, errUnmatchedTopic)
			c.send(outMsg{ref: f.ref, topic: f.topic, event: "phx_reply", payload: replyError(errUnmatchedTopic.reason)})
			return
		}
		if f.joinRef != s.joinRef {
			return // a push to an earlier join of the topic: ignored, as Phoenix does
		}
		if !c.admitPush() {
			c.replyErr(&f, errRateLimited)
			return
		}
		c.safely(ctx, s, func() { s.handleIn(ctx, &f) })
	}
}

// admitPush spends a push token of the user's and of the address's.
func (c *conn) admitPush() bool { return c.admit(c.srv.limits.pushes) }

// admitJoin spends a join token of the user's and of the address's.
func (c *conn) admitJoin() bool { return c.admit(c.srv.limits.joins) }

func (c *conn) admit(l limit.UserAndAddr) bool {
	if ok, _ := l.Reserve(c.user.id, c.addrKey, c.srv.cfg.Now()); ok {
		c.strikes = 0
		return true
	}
	c.strike()
	return false
}

// strike counts a refused frame. A connection refused too many frames
// since its last admitted push or join is flooding and is disconnected.
// Frames that only the frame budget limits (heartbeats, leaves, pushes
// that go nowhere) never clear the strikes: sending them between the
// refused ones must not keep a flood going.
func (c *conn) strike() {
	c.strikes++
	if c.strikes >= c.srv.cfg.FloodStrikes {
		c.log().Warn("disconnecting flooding client", "strikes", c.strikes)
		c.shut(websocket.ClosePolicyViolation, "too many messages", false)
	}
}

// refuseFrame answers a frame over the connection's frame budget, if it
// can be addressed; the answer is not worth reading the frame further.
func (c *conn) refuseFrame(mt int, data []byte) {
	if mt == websocket.TextMessage && len(data) <= c.srv.cfg.MaxFrameBytes {
		if f, ok := peekFrame(data); ok {
			c.replyErr(&f, errRateLimited)
			return
		}
	}
	c.refuseUnaddressed(RefusedRateLimit, errRateLimited.reason)
}

// safely runs a channel's handler so that its failure ends that channel
// alone: the client gets phx_error for it and may rejoin.
func (c *conn) safely(ctx context.Context, s *subscription, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			c.log().Error("channel crashed", "topic", s.topic, "panic", r, "stack", string(debug.Stack()))
			c.endSubscription(ctx, s, "disconnected")
			c.send(outMsg{joinRef: s.joinRef, ref: s.joinRef, topic: s.topic, event: "phx_error", payload: errorPayload("channel crashed")})
		}
	}()
	fn()
}

// join handles phx_join.
func (c *conn) join(ctx context.Context, f *inbound) {
	if old := c.subscriptions[f.topic]; old != nil {
		// Phoenix closes the existing channel for a new join of its topic.
		c.endSubscription(ctx, old, "left")
	}
	videoID, ok := parseVideoTopic(f.topic)
	if !ok {
		c.observeRefusal(f, errUnmatchedTopic)
		c.send(outMsg{ref: f.ref, topic: f.topic, event: "phx_reply", payload: replyError(errUnmatchedTopic.reason)})
		return
	}
	if len(c.subscriptions) >= c.srv.cfg.MaxTopics {
		c.replyErr(f, errTooManyTopics)
		return
	}
	params, err := parseJoinParams(f.payload)
	if err != nil {
		c.replyErr(f, err)
		return
	}
	jctx, cancel := context.WithTimeout(ctx, c.srv.cfg.JoinTimeout)
	defer cancel()
	exists, err := c.srv.deps.Videos.Exists(jctx, videoID)
	if err == nil && !exists {
		err = errVideoNotFound
	}
	if err != nil {
		c.replyErr(f, err)
		return
	}
	h, err := c.srv.hubs.acquire(ctx, videoID)
	if err != nil {
		c.replyErr(f, err)
		return
	}
	device := params.device
	if device == "" {
		device = deviceFromUserAgent(c.userAgent)
	}
	s := &subscription{c: c, hub: h, topic: f.topic, joinRef: f.joinRef, videoID: videoID, presenceRef: newPresenceRef(), device: device, reactionsWindow: params.reactionsWindow}
	// The role only adds what moderators are told (see hub.caughtUp); a
	// lookup that fails leaves it out rather than refuse the join, and
	// every moderator's command checks the role again.
	if mod, err := c.srv.deps.Users.Moderator(jctx, c.user.id); err == nil {
		s.isModerator = mod
	} else {
		c.log().Debug("role lookup failed at join", "err", err)
	}
	if err := h.join(jctx, s, f.ref, params); err != nil {
		c.srv.hubs.release(h)
		c.replyErr(f, err)
		return
	}
	c.subscriptions[f.topic] = s
	c.srv.cfg.Observer.Join(OK)
	c.track(jctx, s)
}

// leave handles phx_leave: reply ok, then phx_close, as Phoenix does.
func (c *conn) leave(ctx context.Context, f *inbound) {
	s := c.subscriptions[f.topic]
	if s != nil && f.joinRef != s.joinRef {
		return // leaving an earlier join: that one is gone already
	}
	if s != nil {
		c.endSubscription(ctx, s, "left")
	}
	c.reply(f, okEmpty)
	if s != nil {
		c.send(outMsg{joinRef: s.joinRef, ref: s.joinRef, topic: s.topic, event: "phx_close", payload: emptyObj})
	}
}

// endSubscription unregisters s from its hub (nothing is sent to it after) and
// records the viewer leaving.
func (c *conn) endSubscription(ctx context.Context, s *subscription, why string) {
	if s.ended {
		return
	}
	s.ended = true
	if c.subscriptions[s.topic] == s {
		delete(c.subscriptions, s.topic)
	}
	s.hub.remove(s)
	c.srv.hubs.release(s.hub)
	if !s.tracked {
		return
	}
	now := c.srv.cfg.Now().UTC()
	data, _ := json.Marshal(domain.ViewerLeft{UserID: c.user.id, ConnectionID: s.presenceRef, Node: c.srv.cfg.Node, Reason: why, At: now})
	if err := c.appendViewer(ctx, s.videoID, domain.TypeViewerLeft, data); err != nil {
		c.log().Error("recording viewer left failed; the node's restart will close it", "video_id", s.videoID, "err", err)
	}
}

// track records the viewer joining: presence is what the log says.
func (c *conn) track(ctx context.Context, s *subscription) {
	keys := c.srv.deps.Keys
	name, err := keys.Seal(ctx, c.user.id, personal.Username, c.user.username)
	if err == nil {
		var device string
		device, err = keys.Seal(ctx, c.user.id, personal.Device, s.device)
		if err == nil {
			err = c.appendViewerJoined(ctx, s, name, device)
		}
	}
	if err != nil {
		c.log().Error("recording viewer joined failed; not shown in presence", "video_id", s.videoID, "err", err)
		return
	}
	s.tracked = true
}

func (c *conn) appendViewerJoined(ctx context.Context, s *subscription, name, device string) error {
	data, _ := json.Marshal(domain.ViewerJoined{
		UserID: c.user.id, Username: name, ConnectionID: s.presenceRef,
		Node: c.srv.cfg.Node, Device: device, At: c.srv.cfg.Now().UTC(),
	})
	return c.appendViewer(ctx, s.videoID, domain.TypeViewerJoined, data)
}

func (c *conn) appendViewer(ctx context.Context, videoID int64, typ string, data []byte) error {
	meta, err := c.srv.deps.Keys.SealMetadata(ctx, c.user.id, c.meta())
	if err != nil {
		return fmt.Errorf("append %s: %w", typ, err)
	}
	_, err = c.srv.deps.Store.Append(ctx, domain.ViewersStream(videoID), eventstore.Any,
		eventstore.EventData{Type: typ, Data: data, Metadata: meta.Encode()})
	if err != nil {
		return fmt.Errorf("append %s: %w", typ, err)
	}
	return nil
}

// newPresenceRef makes a phx_ref: unique per tracked join.
func newPresenceRef() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "F" + base64.RawURLEncoding.EncodeToString(b[:])
}
