package channels

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/personal"
)

// viewer is one tracked connection watching a video.
type viewer struct {
	userID   int64
	username string
	ref      string // the presence phx_ref, ViewerJoined's connection id
	device   string
	at       time.Time
}

// presence folds a viewers-<id> stream. What clients were last told is
// published; changes since gather in changed until the next flush turns
// them into one presence_diff. Not safe for concurrent use: the hub's lock
// guards it.
type presence struct {
	rev       int64 // last viewers revision applied, -1 none
	current   map[string]*viewer
	published map[string]*viewer
	changed   map[string]struct{}
	state     []byte // presence_state payload of published; nil when stale
	deflated  []byte // state compressed (deflate.go); nil when stale or not yet asked for
}

func newPresence() *presence {
	return &presence{rev: -1, current: map[string]*viewer{}, published: map[string]*viewer{}, changed: map[string]struct{}{}}
}

// apply folds one event and reports whether it changed who is watching.
// Sealed names and devices are opened with keys.
func (p *presence) apply(ctx context.Context, keys *personal.Keyring, ev *eventstore.RecordedEvent) (bool, error) {
	p.rev = int64(ev.Revision)
	var ref string
	switch ev.Type {
	case domain.TypeViewerJoined:
		var e domain.ViewerJoined
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return false, err
		}
		if _, ok := p.current[e.ConnectionID]; ok || e.ConnectionID == "" {
			return false, nil
		}
		ref = e.ConnectionID
		var err error
		if e.Username, err = keys.Open(ctx, e.UserID, personal.Username, e.Username); err != nil {
			return false, err
		}
		if e.Device, err = keys.Open(ctx, e.UserID, personal.Device, e.Device); err != nil {
			return false, err
		}
		p.current[ref] = &viewer{userID: e.UserID, username: e.Username, ref: ref, device: e.Device, at: e.At}
	case domain.TypeViewerLeft:
		var e domain.ViewerLeft
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return false, err
		}
		if _, ok := p.current[e.ConnectionID]; !ok { // a second close of one viewing
			return false, nil
		}
		ref = e.ConnectionID
		delete(p.current, ref)
	default:
		return false, nil
	}
	p.changed[ref] = struct{}{}
	return true, nil
}

// publishAll makes the current state the published one, without a diff:
// when the hub first becomes ready, before anyone was told anything.
func (p *presence) publishAll() {
	clear(p.published)
	for ref, v := range p.current {
		p.published[ref] = v
	}
	clear(p.changed)
	p.state, p.deflated = nil, nil
}

// diff publishes the changes since the last call and returns them as a
// presence_diff payload, or nil when nothing visible changed (a viewer who
// came and went within one window).
func (p *presence) diff() []byte {
	joins, leaves := metasByUser{}, metasByUser{}
	for ref := range p.changed {
		cur, pub := p.current[ref], p.published[ref]
		switch {
		case cur != nil && pub == nil:
			joins.add(cur)
			p.published[ref] = cur
		case cur == nil && pub != nil:
			leaves.add(pub)
			delete(p.published, ref)
		}
	}
	clear(p.changed)
	if len(joins) == 0 && len(leaves) == 0 {
		return nil
	}
	p.state, p.deflated = nil, nil
	b, _ := json.Marshal(struct {
		Joins  metasByUser `json:"joins"`
		Leaves metasByUser `json:"leaves"`
	}{joins.sorted(), leaves.sorted()})
	return b
}

// statePayload is the presence_state of what was last published.
func (p *presence) statePayload() []byte {
	if p.state == nil {
		all := metasByUser{}
		for _, v := range p.published {
			all.add(v)
		}
		p.state, _ = json.Marshal(all.sorted())
	}
	return p.state
}

// stateDeflated is statePayload compressed for clients that negotiated
// permessage-deflate, built once for all of them; nil when the state is
// too small to be worth it.
func (p *presence) stateDeflated() []byte {
	st := p.statePayload()
	if p.deflated == nil && len(st) >= deflateMin {
		p.deflated = deflateTail(st)
	}
	return p.deflated
}

// presenceDelay is how long changes that begin to gather wait for their
// presence_diff: PresenceWindow, and no less than the room's interval
// (viewers/PresenceRate) after the last diff. A change in a quiet room
// shows after one window; a stream of joins, however spread, costs each
// viewer one frame per interval, and the presence_state every newcomer
// is sent is rebuilt once per interval too (see presence.statePayload).
func (h *hub) presenceDelay(viewers int, last time.Time) time.Duration {
	cfg := &h.srv.cfg
	interval := time.Duration(float64(viewers) / cfg.PresenceRate * float64(time.Second))
	return max(cfg.PresenceWindow, time.Until(last.Add(interval)))
}

// flush sends the presence changes of the last window to every subscription.
func (h *hub) flush() {
	h.mu.Lock()
	defer h.mu.Unlock()
	payload := h.pres.diff()
	if payload == nil {
		return
	}
	b := broadcast{topic: h.topic, event: "presence_diff", payload: payload}
	var deflated []byte // compressed once, for all who negotiated it
	for s := range h.subscriptions {
		m := b.to(s.joinRef)
		if s.c.deflate && len(payload) >= deflateMin {
			if deflated == nil {
				deflated = deflateTail(payload)
			}
			m.wire, m.deflated = nil, deflated
		}
		_ = s.c.fanOut(m)
	}
}

// metasByUser is Phoenix Presence's shape: user id -> {"metas": [...]},
// one meta per connection.
type metasByUser map[string]*metaList

type metaList struct {
	Metas []meta `json:"metas"`
}

type meta struct {
	PhxRef   string `json:"phx_ref"`
	OnlineAt string `json:"online_at"`
	Device   string `json:"device"`
	Username string `json:"username"`
	at       time.Time
}

func (m metasByUser) add(v *viewer) {
	key := strconv.FormatInt(v.userID, 10)
	l := m[key]
	if l == nil {
		l = &metaList{}
		m[key] = l
	}
	l.Metas = append(l.Metas, meta{
		PhxRef: v.ref, OnlineAt: strconv.FormatInt(v.at.Unix(), 10), Device: v.device, Username: v.username, at: v.at,
	})
}

// sorted orders each user's metas by arrival, for stable output.
func (m metasByUser) sorted() metasByUser {
	for _, l := range m {
		sort.Slice(l.Metas, func(i, j int) bool {
			a, b := l.Metas[i], l.Metas[j]
			if !a.at.Equal(b.at) {
				return a.at.Before(b.at)
			}
			return a.PhxRef < b.PhxRef
		})
	}
	return m
}
