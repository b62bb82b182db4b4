package channels

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// sweepBatch bounds the leaves a sweep appends at once, about 200 KB of
// events: well within what a store takes in one append (KurrentDB's
// default limit is 1 MiB).
const sweepBatch = 1000

// openViewing is a ViewerJoined without its ViewerLeft.
type openViewing struct {
	videoID int64
	joined  domain.ViewerJoined
}

// nodeSeen is what the log says of a node's life.
type nodeSeen struct {
	last    time.Time // its last NodeStarted or NodeHeartbeat
	stopped bool
}

// viewings is the index of open viewings and node lives, folded
// incrementally from the whole log by the Node that owns it (under its
// mu). It is rebuilt at each start.
type viewings struct {
	open  map[string]openViewing // by connection id
	nodes map[string]*nodeSeen
}

func newViewings() *viewings {
	return &viewings{open: make(map[string]openViewing), nodes: make(map[string]*nodeSeen)}
}

func (v *viewings) apply(ev *eventstore.RecordedEvent) error {
	switch ev.Type {
	case domain.TypeViewerJoined:
		var e domain.ViewerJoined
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		id, ok := parseID(strings.TrimPrefix(ev.Stream, "viewers-"))
		if !ok {
			return nil
		}
		v.open[e.ConnectionID] = openViewing{videoID: id, joined: e}
	case domain.TypeViewerLeft:
		var e domain.ViewerLeft
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		delete(v.open, e.ConnectionID)
	case domain.TypeNodeStarted, domain.TypeNodeHeartbeat:
		var e domain.NodeHeartbeat // NodeStarted has the same node and at
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		v.node(e.Node).last = ev.RecordedAt
	case domain.TypeNodeStopped:
		var e domain.NodeStopped
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		v.node(e.Node).stopped = true
	}
	return nil
}

func (v *viewings) node(id string) *nodeSeen {
	n := v.nodes[id]
	if n == nil {
		n = &nodeSeen{}
		v.nodes[id] = n
	}
	return n
}

// Sweep closes, with ViewerLeft events, the viewings whose node is dead:
// those of an earlier run of this node ("node_restarted"), and those of
// other nodes that stopped or have been silent for longer than
// NodeConfig.Timeout ("node_lost"). It returns how many it closed. The
// node runs it every SweepInterval, and at start, where with Exclusive
// every other node counts as dead.
//
// Several live nodes may sweep the same dead node at once: each appends
// its own ViewerLeft, and the second leave of a viewing changes nothing
// (presence folding ignores a leave for a viewing already closed).
func (n *Node) Sweep(ctx context.Context) (int, error) {
	return n.sweep(ctx, false)
}

func (n *Node) sweep(ctx context.Context, exclusive bool) (int, error) {
	now := n.cfg.Now()
	type closing struct {
		ref string
		o   openViewing
		why string
	}
	var alive map[string]bool // nil: no leases, the log's heartbeats only
	if n.cfg.Liveness != nil && !exclusive {
		var err error
		if alive, err = n.cfg.Liveness.Alive(ctx); err != nil {
			return 0, fmt.Errorf("sweep: %w", err)
		}
	}
	var todo []closing
	n.mu.Lock()
	for ref, o := range n.index.open {
		node := o.joined.Node
		if node == n.id {
			continue
		}
		why := ""
		switch seen := n.index.nodes[node]; {
		case nodeName(node) == n.cfg.Name:
			why = "node_restarted"
		case exclusive, seen == nil, seen.stopped:
			why = "node_lost"
		case !alive[node] && now.Sub(seen.last) > n.cfg.Timeout:
			// Neither a lease nor a recent NodeStarted or NodeHeartbeat
			// (a node of an earlier version beats in the log).
			why = "node_lost"
		default:
			continue // alive elsewhere
		}
		// Out of the index now, so that the next sweep does not close it
		// again before its ViewerLeft comes back through the log.
		delete(n.index.open, ref)
		todo = append(todo, closing{ref, o, why})
	}
	n.mu.Unlock()
	// One append per video: a node that served thousands of viewers of
	// one video leaves in one commit, not in one round trip per viewer,
	// which on a shared store is what the bound must wait for.
	slices.SortStableFunc(todo, func(a, b closing) int { return cmp.Compare(a.o.videoID, b.o.videoID) })
	for i := 0; i < len(todo); {
		j := i + 1
		for j < len(todo) && j-i < sweepBatch && todo[j].o.videoID == todo[i].o.videoID {
			j++
		}
		leaves := make([]eventstore.EventData, 0, j-i)
		for _, c := range todo[i:j] {
			data, _ := json.Marshal(domain.ViewerLeft{UserID: c.o.joined.UserID, ConnectionID: c.ref, Node: c.o.joined.Node, Reason: c.why, At: now.UTC()})
			leaves = append(leaves, eventstore.EventData{Type: domain.TypeViewerLeft, Data: data})
		}
		if _, err := n.store.Append(ctx, domain.ViewersStream(todo[i].o.videoID), eventstore.Any, leaves...); err != nil {
			n.mu.Lock() // retried at the next sweep
			for _, r := range todo[i:] {
				n.index.open[r.ref] = r.o
			}
			n.mu.Unlock()
			return i, fmt.Errorf("sweep: %w", err)
		}
		i = j
	}
	return len(todo), nil
}
