package channels

import (
	"cmp"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
)

// catchUp is where a subscription is in the history it is being sent:
// the client has every annotation and reply up to id (the two share the
// stream's ids), each as of client revision base or later (deleted ones
// it does not have), and nothing after id. A client that knows only
// annotations skips the replies' pushes and is exact all the same: what
// it lacks is what it would have been sent.
// A page brings it forward in two moves, under the hub's lock: first the
// edits and deletes since base of the annotations up to id (a sweep of
// hub.changes that may span pages; next is where it resumes), which
// brings all of them to the hub's revision, now base; then the
// annotations posted after id, as they are now, which moves id. The
// history is sent when a page reaches the end of the fold: from then on
// the subscription gets the live events after that revision.
//
// The rev a paged push carries is the revision the client may claim once
// it has applied that push, whatever it missed after it: an edit or
// delete of the sweep carries the base the sweep started from (the client
// has all but the sweep's changes as of it), an annotation the revision
// of its page (the client has everything up to it as of that revision).
// So a client cut at any point that rejoins with its largest id and
// largest rev is sent exactly what it lacks; one that rejoins with its
// largest id alone (the book's recipe, where rev is taken to be that id)
// too, since no page reaches an id beyond its own revision.
type catchUp struct {
	id   int64
	base int64
	next int // index in hub.changes of the sweep's next change; -1: no sweep under way
	// viewer is the client's user: the author of a hidden item gets it
	// marked hidden, everyone else only its id; an item on which the
	// viewer holds reactions carries them ("mine").
	viewer int64
}

// pageItem is one entry of a page: an annotation posted, edited or
// deleted, with the revision its push carries.
type pageItem struct {
	event string // new_annotation, annotation_updated, annotation_deleted, or the same of a reply; annotation_hidden for both
	reply bool
	id    int64
	ann   []byte // the annotation as clients receive it, without rev; nil when deleted
	rev   int64
}

// scanFactor bounds the entries a page passes over without sending
// (changes of annotations the client does not have yet, deleted
// annotations), in pages: a page's work is proportional to the page.
const scanFactor = 16

// page takes the next page of cu, at most maxItems entries in at most
// maxBytes of JSON (the first entry goes whatever its size), and reports
// whether it reaches the end of the fold. h.mu is held.
func (h *hub) page(cu *catchUp, maxItems, maxBytes int) (items []pageItem, done bool) {
	now := h.rev + 1
	size, scanned := 0, 0
	fits := func(n int) bool {
		return len(items) == 0 || (len(items) < maxItems && size+n <= maxBytes)
	}
	if cu.next < 0 {
		cu.next = len(h.changes)
		if cu.id > 0 {
			cu.next = sort.Search(len(h.changes), func(i int) bool { return h.changes[i].rev > cu.base })
		}
	}
	var sent map[int64]bool // within a page, each annotation's state once
	for ; cu.next < len(h.changes); cu.next++ {
		id := h.changes[cu.next].id
		if id > cu.id || sent[id] {
			if scanned++; scanned > scanFactor*maxItems {
				return items, false
			}
			continue
		}
		a, _ := h.ann.Get(id)
		it := pageItem{event: "annotation_deleted", id: id, rev: cu.base, reply: a.IsReply()}
		n := 24
		switch {
		case a.Deleted:
		case h.isHidden(id) && a.UserID != cu.viewer:
			it.event = "annotation_hidden"
		default:
			it.event, it.ann = "annotation_updated", h.viewerBytes(a, cu.viewer)
			n = len(it.ann)
		}
		if e, ok := replyEvents[it.event]; ok && it.reply {
			it.event = e
		}
		if !fits(n + 1) {
			return items, false
		}
		if sent == nil {
			sent = make(map[int64]bool)
		}
		sent[id] = true
		items = append(items, it)
		size += n + 1
	}
	cu.next, cu.base = -1, now
	for a := range h.ann.After(cu.id) {
		if a.Deleted || (h.isHidden(a.ID) && a.UserID != cu.viewer) {
			cu.id = a.ID
			if scanned++; scanned > scanFactor*maxItems {
				return items, false
			}
			continue
		}
		j := h.viewerBytes(a, cu.viewer)
		if !fits(len(j) + 1) {
			return items, false
		}
		it := pageItem{event: "new_annotation", id: a.ID, ann: j, rev: now, reply: a.IsReply()}
		if it.reply {
			it.event = replyEvents[it.event]
		}
		items = append(items, it)
		size += len(j) + 1
		cu.id = a.ID
	}
	return items, true
}

// replyEvents names the pushes of a reply after those of an annotation.
var replyEvents = map[string]string{
	"new_annotation":     "new_reply",
	"annotation_updated": "reply_updated",
	"annotation_deleted": "reply_deleted",
}

// joinPage is the ok reply of a join, the first page of its catch-up:
//
//	{"annotations": [...], "rev": R, "more": M}
//	{"annotations": [...], "rev": R, "more": M, "updated": [...], "deleted": [ids], "hidden": [ids]}
//
// with, when the page holds replies, "replies", "replies_updated" and
// "replies_deleted" beside them, so that a client that knows only
// annotations never sees one.
//
// R, the client revision, is how many events of the video's stream the
// reply reflects; every push carries the R it brings the video to, so
// that a client can send the last one it applied as last_seen_rev when
// it rejoins. M says whether more of the history follows as pushes,
// before caught_up.
func joinPage(items []pageItem, rev int64, more bool) []byte {
	var ann, rep []pageItem
	var hidden []int64
	for _, it := range items {
		if it.event == "annotation_hidden" {
			hidden = append(hidden, it.id)
			continue
		}
		if it.reply {
			rep = append(rep, it)
		} else {
			ann = append(ann, it)
		}
	}
	size := 256
	for _, it := range items {
		size += len(it.ann) + 24
	}
	b := append(make([]byte, 0, size), `{"status":"ok","response":{`...)
	b = appendPage(b, ann, "annotations", "updated", "deleted", true)
	b = append(b, `,"rev":`...)
	b = strconv.AppendInt(b, rev, 10)
	b = append(b, `,"more":`...)
	b = strconv.AppendBool(b, more)
	if len(rep) > 0 {
		b = append(b, ',')
		b = appendPage(b, rep, "replies", "replies_updated", "replies_deleted", false)
	}
	slices.Sort(hidden)
	b = appendIDs(b, `,"hidden":[`, hidden)
	return append(b, "}}"...)
}

// appendPage writes the added, updated and deleted of items under the
// given keys; the added always when always, the others when not empty.
func appendPage(b []byte, items []pageItem, addedKey, updatedKey, deletedKey string, always bool) []byte {
	var added [][]byte
	var changed []pageItem
	for _, it := range items {
		if it.event == "new_annotation" || it.event == "new_reply" {
			added = append(added, it.ann)
		} else {
			changed = append(changed, it)
		}
	}
	slices.SortFunc(changed, func(a, b pageItem) int { return cmp.Compare(a.id, b.id) })
	var updated [][]byte
	var deleted []int64
	for _, it := range changed {
		if it.ann == nil {
			deleted = append(deleted, it.id)
		} else {
			updated = append(updated, it.ann)
		}
	}
	sep := ""
	if always || len(added) > 0 {
		b = append(b, `"`+addedKey+`":`...)
		b = appendJSONList(b, added)
		sep = ","
	}
	if len(updated) > 0 {
		b = append(b, sep+`"`+updatedKey+`":`...)
		b = appendJSONList(b, updated)
		sep = ","
	}
	if len(deleted) > 0 {
		b = append(b, sep+`"`+deletedKey+`":[`...)
		for i, id := range deleted {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, id, 10)
		}
		b = append(b, ']')
	}
	return b
}

// appendIDs appends name and the ids, and the closing bracket, when
// there are any.
func appendIDs(b []byte, name string, ids []int64) []byte {
	if len(ids) == 0 {
		return b
	}
	b = append(b, name...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return append(b, ']')
}

func appendJSONList(b []byte, list [][]byte) []byte {
	b = append(b, '[')
	for i, j := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, j...)
	}
	return append(b, ']')
}

// payload is the push of it: the annotation with its rev, or the id
// deleted with its rev, as live pushes carry them.
func (it *pageItem) payload() []byte {
	if it.ann == nil {
		b := append(make([]byte, 0, 40), `{"id":`...)
		b = strconv.AppendInt(b, it.id, 10)
		b = append(b, `,"rev":`...)
		b = strconv.AppendInt(b, it.rev, 10)
		return append(b, '}')
	}
	return withRev(it.ann, it.rev)
}

// caughtUpPayload is the caught_up push: {"last_id": N, "last_rev": R},
// what the client may claim on its next join once it has applied
// everything before it.
func caughtUpPayload(cu *catchUp) []byte {
	b, _ := json.Marshal(struct {
		LastID  int64 `json:"last_id"`
		LastRev int64 `json:"last_rev"`
	}{cu.id, cu.base})
	return b
}

// sendPage queues the next page of s's catch-up as pushes, then
// caught_up if it is the last: from there on s receives the live events,
// which start right after the page's revision. It reports whether more
// is to come. h.mu is held.
func (h *hub) sendPage(s *subscription) (more bool) {
	cfg := &h.srv.cfg
	items, done := h.page(s.catchUp, min(cfg.PageSize, max(cfg.QueueSize/2, 1)), cfg.PageBytes)
	n := 0
	for i := range items {
		p := items[i].payload()
		n += len(p)
		s.c.fanOut(outMsg{joinRef: s.joinRef, topic: h.topic, event: items[i].event, payload: p})
	}
	if len(items) > 0 {
		cfg.Observer.CatchUpPage(len(items), n)
	}
	if done {
		h.caughtUp(s)
	}
	return !done
}

// caughtUp ends s's catch-up: it is sent caught_up and, from then on,
// the live events after the hub's revision. h.mu is held.
func (h *hub) caughtUp(s *subscription) {
	p := caughtUpPayload(s.catchUp)
	if s.isModerator {
		p = h.withReported(p)
	}
	s.c.fanOut(outMsg{joinRef: s.joinRef, topic: h.topic, event: "caught_up", payload: p})
	s.catchUp = nil
	s.lastRev = h.rev
}

// paging sends s's history after its join reply, a page each time its
// connection has written the last, until it is all sent or s ends. It
// is s's, started by hub.join and stopped and waited for by hub.remove.
func (s *subscription) paging(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-s.c.drained():
		case <-stop:
			return
		case <-s.c.quit:
			return
		}
		if !s.hub.nextPage(s) {
			return
		}
	}
}

// nextPage sends the next page of s's catch-up and reports whether more
// is to come; nothing is sent to a subscription that has left the hub.
func (h *hub) nextPage(s *subscription) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subscriptions[s]; !ok || h.failed != nil || s.catchUp == nil {
		return false
	}
	return h.sendPage(s)
}
