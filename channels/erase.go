package channels

import (
	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/personal"
)

// closeErased is the close reason of an erased user's sockets.
const closeErased = "account erased"

// UserErased makes every hub of this process forget what user userID
// wrote, and closes the user's sockets. Call it when an erasure is
// applied, on every node (accounts.Service.OnUserErased).
//
// Viewers see each of the user's live annotations pushed again as an
// annotation_updated (a reply as a reply_updated) with the erased name
// and text, at once: the book's client replaces an annotation it has by
// id. The push carries the
// video's current rev, and the change is recorded at that rev, so a
// client that rejoins from before it is sent it again; one that saw
// exactly that rev and missed the push keeps the old text until it
// reloads.
func (s *Server) UserErased(userID int64) {
	s.hubs.mu.Lock()
	hs := make([]*hub, 0, len(s.hubs.m))
	for _, h := range s.hubs.m {
		hs = append(hs, h)
	}
	s.hubs.mu.Unlock()
	for _, h := range hs {
		h.erase(userID)
	}
	s.mu.Lock()
	var closing []*conn
	for c := range s.conns {
		if c.user.id == userID {
			closing = append(closing, c)
		}
	}
	s.mu.Unlock()
	for _, c := range closing {
		c.log().Info("closing socket of erased user")
		c.shut(websocket.ClosePolicyViolation, closeErased, false)
	}
}

// erase rewrites the user's annotations in the fold and pushes those
// still live to the subscriptions that have their history.
func (h *hub) erase(userID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	name := personal.ErasedUser(userID)
	sent := 0
	for a := range h.ann.After(0) {
		if a.UserID != userID || (a.Username == name && a.Body == personal.ErasedText) {
			continue
		}
		a.Username, a.Body = name, personal.ErasedText
		if a.Deleted {
			continue
		}
		h.changes = append(h.changes, change{rev: h.rev, id: a.ID})
		j := itemJSONBytes(a)
		h.enc.keep(a.ID, j)
		event := "annotation_updated"
		if a.IsReply() {
			event = "reply_updated"
		}
		b := broadcast{topic: h.topic, event: event, payload: withRev(j, h.rev)}
		for s := range h.subscriptions {
			if s.catchUp != nil { // its pages read the fold as it is now
				continue
			}
			s.c.fanOut(b.to(s.joinRef))
			sent++
		}
	}
	for _, v := range h.pres.current {
		if v.userID == userID {
			v.username, v.device = name, personal.ErasedText
		}
	}
	if sent > 0 {
		h.srv.cfg.Observer.Broadcast(sent)
	}
}
