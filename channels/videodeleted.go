package channels

import (
	"strconv"

	"github.com/videologue/videologue/domain"
)

// CloseVideo ends the channel of a deleted video for its viewers on this
// node: each gets a video_deleted push ({"id": videoID}) and then
// phx_close, as if the server had left the channel for them, so that
// the client does not rejoin a video that takes no more joins. Later
// joins are refused by the catalog ("this video was deleted"). It does
// not block: it is called from the catalog's read model.
func (s *Server) CloseVideo(videoID int64) {
	s.hubs.mu.Lock()
	h := s.hubs.m[videoID]
	s.hubs.mu.Unlock()
	if h != nil {
		h.closeDeleted()
	}
}

// closeDeleted tells the hub's subscriptions that the video was deleted,
// drops them and stops the hub. The subscriptions' connections record
// the viewers leaving when they next touch the topic or close, as after
// a hub's failure.
func (h *hub) closeDeleted() {
	h.srv.hubs.retire(h, true)
	payload := []byte(`{"id":` + strconv.FormatInt(h.videoID, 10) + `}`)
	h.mu.Lock()
	if h.failed == nil {
		h.failed = domain.ErrVideoDeleted
	}
	for s := range h.subscriptions {
		s.gone.Store(true)
		s.c.send(outMsg{joinRef: s.joinRef, topic: h.topic, event: "video_deleted", payload: payload})
		s.c.send(outMsg{joinRef: s.joinRef, ref: s.joinRef, topic: h.topic, event: "phx_close", payload: emptyObj})
	}
	clear(h.subscriptions)
	h.mu.Unlock()
	h.cancel()
}
