package channels

import (
	"strconv"

	"github.com/videologue/videologue/domain"
)

// encodedRecent is how many annotations, the latest posted or changed, a
// hub keeps encoded: a client that missed fewer is sent bytes encoded
// once, not once per rejoin. About 200 bytes each.
const encodedRecent = 2048

// encoded keeps the recent annotations of a hub as clients receive them
// (without rev), so that every join reply and catch-up page that carries
// one copies the bytes the live push was made of, under the hub's lock,
// rather than encoding it again: a hundred clients rejoining after a
// hundred posts cost a hundred encodings, not ten thousand. Guarded by
// hub.mu.
type encoded struct {
	m     map[int64][]byte
	order []int64 // ids in the order kept, a ring from next once full
	next  int
}

// keep records j as annotation id's encoding, forgetting the oldest kept
// once encodedRecent are.
func (e *encoded) keep(id int64, j []byte) {
	if e.m == nil {
		e.m = make(map[int64][]byte)
	}
	if len(e.order) < encodedRecent {
		e.order = append(e.order, id)
	} else {
		if old := e.order[e.next]; old != id {
			delete(e.m, old)
		}
		e.order[e.next] = id
		e.next = (e.next + 1) % encodedRecent
	}
	e.m[id] = j
}

// forget drops id's encoding: it was deleted.
func (e *encoded) forget(id int64) { delete(e.m, id) }

// of is a's encoding, kept or made now; a may be a reply (replies.go).
func (e *encoded) of(a *domain.Annotation) []byte {
	if j, ok := e.m[a.ID]; ok {
		return j
	}
	return itemJSONBytes(a)
}

// withRev is the push of an annotation encoded as j: j with the client
// revision the push brings the video to as its last key.
func withRev(j []byte, rev int64) []byte {
	b := append(make([]byte, 0, len(j)+24), j[:len(j)-1]...)
	b = append(b, `,"rev":`...)
	b = strconv.AppendInt(b, rev, 10)
	return append(b, '}')
}

// lastReply is the join reply a hub built last, with what it was built
// from: clients that drop together (a network blip, a restarted proxy)
// rejoin from the same point, and all but the first are sent the same
// bytes. Guarded by hub.mu.
type lastReply struct {
	from  catchUp // the join's catch-up before its first page
	rev   int64   // the hub's revision then
	after catchUp // the catch-up after it
	done  bool
	items int
	reply []byte
}

// joinReply is the join reply for cu, the first page of its catch-up,
// and whether that is all of it; cu moves past the page. A reply for
// the same point at the same revision is the same page: it is built once.
// h.mu is held.
func (h *hub) joinReply(cu *catchUp) (reply []byte, done bool) {
	last := &h.lastReply
	// Who joins changes a page only through the items a moderator hid
	// (their authors still get them) and the reactions they hold
	// ("mine"): without either, one page serves all.
	from, viewer := *cu, cu.viewer
	if len(h.mod.hidden) == 0 && h.mod.reacts.holders[viewer] == 0 {
		from.viewer = 0
	}
	if last.reply != nil && last.from == from && last.rev == h.rev {
		*cu = last.after
		cu.viewer = viewer
		h.srv.cfg.Observer.CatchUpPage(last.items, len(last.reply))
		return last.reply, last.done
	}
	cfg := &h.srv.cfg
	items, done := h.page(cu, cfg.PageSize, cfg.PageBytes-replyEnvelope)
	reply = joinPage(items, cu.base, !done)
	cfg.Observer.CatchUpPage(len(items), len(reply))
	*last = lastReply{from: from, rev: h.rev, after: *cu, done: done, items: len(items), reply: reply}
	return reply, done
}
