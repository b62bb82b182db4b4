package channels

import (
	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/domain"
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
// id. A client that missed the push is sent the erased items when it
// rejoins, whatever revision it claims up to the video's current one
// (see erasedChange).
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
		if a.UserID != userID || isErased(a) {
			continue
		}
		a.Username, a.Body = name, personal.ErasedText
		if a.Deleted {
			continue
		}
		h.erasedChange(a.ID)
		j := itemJSONBytes(a)
		h.enc.keep(a.ID, j)
		event := "annotation_updated"
		if a.IsReply() {
			event = "reply_updated"
		}
		b := broadcast{topic: h.topic, event: event, payload: withRev(j, h.pushRev(h.rev+1))}
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

// isErased reports whether item a reads as its erased author's: the fold
// opened it after the key was gone, or erase rewrote it.
func isErased(a *domain.Annotation) bool {
	return a.Username == personal.ErasedUser(a.UserID) && a.Body == personal.ErasedText
}

// erasedChange records that item id, live, now reads as erased. No event of the video's stream marks
// an erasure, so the video's revision does not move: a client at the
// current client revision may hold the text, whether it was sent the
// push or not. The change is recorded one revision past the current
// one, so that a rejoin at any revision up to it is sent the erased item
// under updated (a client that had the push gets it again, the same
// state); the next event of the video is recorded at that revision too,
// so the changes stay in revision order.
func (h *hub) erasedChange(id int64) {
	h.changes = append(h.changes, change{rev: h.rev + 2, id: id})
}

// erasedAtLoad records, when the hub has folded the video's history, the
// live items of users erased before it: clients that held their text
// from an earlier fold (another node, before a restart, before the hub
// last closed) are sent them erased when they rejoin.
func (h *hub) erasedAtLoad() {
	for a := range h.ann.After(0) {
		if !a.Deleted && isErased(a) {
			h.erasedChange(a.ID)
		}
	}
}
