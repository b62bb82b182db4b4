package channels

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// Reactions on the video channel: push react {"id", "reaction", "on"};
// the counts of the items whose reactions changed are pushed as
// reactions {"id", "counts", "rev"}, gathered over Config.ReactionWindow
// so that a burst costs each viewer a push per item per window, not one
// per reaction. The connections of a user who changed their own
// reactions on the item get "mine" too: the reactions they hold, in the
// set's order. An item in a join reply or a catch-up page carries "mine"
// when the joining user holds reactions on it, so a page that reloads
// shows them pressed.
//
// Coalescing delays the counts, so a push that follows a reaction not yet
// pushed must not let its client claim that reaction: while reactions
// wait, every push carries at most the revision before the first of them
// (pushRev). A client cut before the counts come then rejoins below that
// reaction, and its catch-up sends the item again with its counts.

var errUnknownReaction = refuse("reaction must be one of %s", strings.Join(domain.Reactions[:], ", "))

// reactState is the fold's reactions: who holds which reaction of each
// item, the counts, and what waits to be pushed.
type reactState struct {
	items   map[int64]*itemReactions
	holders map[int64]int     // user -> items on which they hold a reaction
	pending map[int64][]int64 // items whose counts changed since the last push -> the users who changed them
	first   int64             // client revision of the first change pending; 0 none
	armed   atomic.Bool       // a change is pending and the hub's run loop has no timer for it yet
}

type itemReactions struct {
	users  map[int64]uint8 // bit i: the user holds domain.Reactions[i]
	counts [len(domain.Reactions)]int64
}

func (r *reactState) init() {
	r.items = make(map[int64]*itemReactions)
	r.holders = make(map[int64]int)
	r.pending = make(map[int64][]int64)
}

// holds reports whether userID holds reaction i of item id. h.mu is held.
func (h *hub) holds(id, userID int64, i int) bool {
	it := h.mod.reacts.items[id]
	return it != nil && it.users[userID]&(1<<i) != 0
}

// foldReaction applies e, at client revision rev, and reports whether it
// changed the counts: an add of a reaction held, a removal of one not
// held, or a reaction on an item that is not live changes nothing.
func (h *hub) foldReaction(e domain.ReactionSet, rev int64) bool {
	i := domain.ReactionIndex(e.Reaction)
	a, ok := h.ann.Get(e.AnnotationID)
	if i < 0 || !ok || a.Deleted || h.mod.hidden[a.ID] || h.holds(a.ID, e.UserID, i) == e.On {
		return false
	}
	r := &h.mod.reacts
	it := r.items[a.ID]
	if it == nil {
		it = &itemReactions{users: make(map[int64]uint8)}
		r.items[a.ID] = it
	}
	if e.On {
		if it.users[e.UserID] == 0 {
			r.holders[e.UserID]++
		}
		it.users[e.UserID] |= 1 << i
		it.counts[i]++
	} else {
		it.users[e.UserID] &^= 1 << i
		if it.users[e.UserID] == 0 {
			delete(it.users, e.UserID)
			if r.holders[e.UserID]--; r.holders[e.UserID] == 0 {
				delete(r.holders, e.UserID)
			}
		}
		it.counts[i]--
	}
	if r.first == 0 {
		r.first = rev
		r.armed.Store(true)
	}
	if !slices.Contains(r.pending[a.ID], e.UserID) {
		r.pending[a.ID] = append(r.pending[a.ID], e.UserID)
	}
	return true
}

// pushRev is the revision a push made at client revision rev may carry:
// rev, or the revision before the first reaction whose counts are not
// pushed yet. h.mu is held.
func (h *hub) pushRev(rev int64) int64 {
	if f := h.mod.reacts.first; f > 0 && f-1 < rev {
		return f - 1
	}
	return rev
}

// counts returns item id's reaction counts as JSON, {} for none.
func (h *hub) countsJSON(b []byte, id int64) []byte {
	b = append(b, '{')
	if it := h.mod.reacts.items[id]; it != nil {
		n := 0
		for i, c := range it.counts {
			if c == 0 {
				continue
			}
			if n++; n > 1 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, domain.Reactions[i]...)
			b = append(b, `":`...)
			b = strconv.AppendInt(b, c, 10)
		}
	}
	return append(b, '}')
}

// flushReactions pushes the counts of the items whose reactions changed
// since the last flush to every subscription past its catch-up (one in
// catch-up gets the counts in its pages). The last push carries the
// hub's revision, the others the revision before the first change.
func (h *hub) flushReactions() {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := &h.mod.reacts
	if r.first == 0 {
		return
	}
	ids := make([]int64, 0, len(r.pending))
	for id := range r.pending {
		if !h.mod.hidden[id] {
			ids = append(ids, id)
		}
	}
	before := r.first - 1
	pending := r.pending
	r.pending = make(map[int64][]int64, len(pending))
	r.first = 0
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	msgs := make([]broadcast, len(ids))
	for n, id := range ids {
		rev := before
		if n == len(ids)-1 {
			rev = h.rev + 1
		}
		b := append(make([]byte, 0, 96), `{"id":`...)
		b = strconv.AppendInt(b, id, 10)
		b = append(b, `,"counts":`...)
		b = h.countsJSON(b, id)
		b = append(b, `,"rev":`...)
		b = strconv.AppendInt(b, rev, 10)
		b = append(b, '}')
		msgs[n] = broadcast{topic: h.topic, event: "reactions", payload: b}
	}
	// Each connection gets the window's pushes in one step, so that they
	// leave in one write (see conn.fanOutAll); each push is encoded once
	// per join_ref and shared, but for the users who changed the item.
	// A subscription that asked for reactions_window gets one push with
	// every item instead: a frame per window, not one per item.
	out := make([]outMsg, len(msgs))
	var window *broadcast // the shared reactions_window push, built on first need
	sent := 0
	for s := range h.subscriptions {
		if s.catchUp != nil {
			continue
		}
		if s.reactionsWindow {
			user := s.c.user.id
			if !changedBy(pending, ids, user) {
				if window == nil {
					window = &broadcast{topic: h.topic, event: "reactions_window", payload: h.windowJSON(ids, nil, 0)}
				}
				s.c.fanOut(window.to(s.joinRef))
			} else {
				own := broadcast{topic: h.topic, event: "reactions_window", payload: h.windowJSON(ids, pending, user)}
				s.c.fanOut(own.to(s.joinRef))
			}
			sent++
			continue
		}
		for n := range msgs {
			if user := s.c.user.id; slices.Contains(pending[ids[n]], user) {
				b := msgs[n].payload
				own := broadcast{topic: h.topic, event: "reactions", payload: h.mineJSON(append(b[:len(b)-1:len(b)-1], ','), ids[n], user)}
				out[n] = own.to(s.joinRef)
				continue
			}
			out[n] = msgs[n].to(s.joinRef)
		}
		s.c.fanOutAll(out)
		sent++
	}
	clear(out)
	for range msgs {
		h.srv.cfg.Observer.Broadcast(sent)
	}
}

// changedBy reports whether user changed a reaction of one of the items
// ids, whose changers are in pending.
func changedBy(pending map[int64][]int64, ids []int64, user int64) bool {
	for _, id := range ids {
		if slices.Contains(pending[id], user) {
			return true
		}
	}
	return false
}

// windowJSON is the reactions_window payload of the items ids:
// {"items": [{"id", "counts"}, ...], "rev"}, the hub's rev, as the last of
// the window's reactions pushes carries. The items user changed (their
// changers in pending) carry "mine" too; user 0 changed none.
func (h *hub) windowJSON(ids []int64, pending map[int64][]int64, user int64) []byte {
	b := append(make([]byte, 0, 16+64*len(ids)), `{"items":[`...)
	for n, id := range ids {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, id, 10)
		b = append(b, `,"counts":`...)
		b = h.countsJSON(b, id)
		if user != 0 && slices.Contains(pending[id], user) {
			b = h.mineJSON(append(b, ','), id, user)
		} else {
			b = append(b, '}')
		}
	}
	b = append(b, `],"rev":`...)
	b = strconv.AppendInt(b, h.rev+1, 10)
	return append(b, '}')
}

// mineJSON appends "mine": the reactions user holds on item id, in the
// set's order, and closes the object.
func (h *hub) mineJSON(b []byte, id, user int64) []byte {
	b = append(b, `"mine":[`...)
	var held uint8
	if it := h.mod.reacts.items[id]; it != nil {
		held = it.users[user]
	}
	n := 0
	for i, name := range domain.Reactions {
		if held&(1<<i) == 0 {
			continue
		}
		if n++; n > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"')
	}
	return append(b, "]}"...)
}

// viewerBytes is annBytes(a) for a page to viewer: with "mine" when they
// hold reactions on a. h.mu is held.
func (h *hub) viewerBytes(a *domain.Annotation, viewer int64) []byte {
	j := h.annBytes(a)
	it := h.mod.reacts.items[a.ID]
	if it == nil || it.users[viewer] == 0 || viewer == 0 {
		return j
	}
	b := append(make([]byte, 0, len(j)+48), j[:len(j)-1]...)
	return h.mineJSON(append(b, ','), a.ID, viewer)
}

// annBytes is annotation a as a client receives it, without rev, with
// its reaction counts and whether it is hidden (sent so only to its
// author, see hub.page); a plain one is the hub's kept encoding. The same
// for every client, so join replies and pages stay shareable. h.mu is
// held.
func (h *hub) annBytes(a *domain.Annotation) []byte {
	it := h.mod.reacts.items[a.ID]
	hidden := h.mod.hidden[a.ID]
	if it == nil && !hidden {
		return h.enc.of(a)
	}
	j := h.enc.of(a)
	b := append(make([]byte, 0, len(j)+96), j[:len(j)-1]...)
	if hidden {
		b = append(b, `,"hidden":true`...)
	}
	if it != nil {
		b = append(b, `,"reactions":`...)
		b = h.countsJSON(b, a.ID)
	}
	return append(b, '}')
}

// react takes {"id", "reaction", "on": true|false}. Setting a reaction
// the user holds, or clearing one they do not, succeeds without writing.
func (s *subscription) react(ctx context.Context, payload json.RawMessage) error {
	var p struct {
		ID       json.RawMessage `json:"id"`
		Reaction json.RawMessage `json:"reaction"`
		On       json.RawMessage `json:"on"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return refuse("payload must be an object")
	}
	id, err := idField(p.ID)
	if err != nil {
		return err
	}
	var name string
	if json.Unmarshal(p.Reaction, &name) != nil {
		return errUnknownReaction
	}
	i := domain.ReactionIndex(name)
	if i < 0 {
		return errUnknownReaction
	}
	var on bool
	if len(p.On) == 0 || json.Unmarshal(p.On, &on) != nil {
		return refuse("on must be true or false")
	}
	h, user := s.hub, s.c.user.id
	same := false
	check := func() error {
		if _, err := h.itemLocked(id, false); err != nil {
			return err
		}
		same = h.holds(id, user, i) == on
		return nil
	}
	if _, err := h.checkLocked(ctx, id, check); err != nil || same {
		// Nothing is written on the word of a fold that may lag the log
		// (a set just before this clear): bring it to the head and look
		// again.
		if err := h.catchUpToHead(ctx); err != nil {
			return err
		}
		if _, err := h.checkLocked(ctx, id, check); err != nil || same {
			return err
		}
	}
	// Any revision: the fold ignores a repeat that raced this check, so
	// concurrent reactions on a busy video never retry.
	ev, err := s.event(ctx, domain.TypeReactionSet, domain.ReactionSet{AnnotationID: id, UserID: user, Reaction: name, On: on})
	if err != nil {
		return err
	}
	if _, err := s.c.srv.deps.Store.Append(ctx, domain.VideoStream(s.videoID), eventstore.Any, ev); err != nil {
		return fmt.Errorf("append reaction: %w", err)
	}
	return nil
}
