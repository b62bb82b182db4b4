package channels

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

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

// viewings is the index of open viewings and node lives, folded from the
// whole log. It is rebuilt at each start; the projections of issue 5 will
// keep it checkpointed instead.
type viewings struct {
	open  map[string]openViewing // by connection id
	nodes map[string]*nodeSeen
}

const sweepPage = 4096

// scanViewings reads the log from the start and folds the viewer and node
// events.
func scanViewings(ctx context.Context, store Store) (*viewings, error) {
	v := &viewings{open: make(map[string]openViewing), nodes: make(map[string]*nodeSeen)}
	from := uint64(1)
	for {
		evs, err := store.ReadAll(ctx, eventstore.Forwards, from, sweepPage)
		if err != nil {
			return nil, fmt.Errorf("scan viewings: %w", err)
		}
		for i := range evs {
			if err := v.apply(&evs[i]); err != nil {
				return nil, fmt.Errorf("scan viewings: position %d: %w", evs[i].Position, err)
			}
		}
		if len(evs) < sweepPage {
			return v, nil
		}
		from = evs[len(evs)-1].Position + 1
	}
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
// other nodes that stopped or fell silent for three heartbeat intervals
// ("node_lost"; with Exclusive, every other node). It returns how many it
// closed. Closing one twice (two nodes sweeping at once) is harmless: the
// second ViewerLeft of a viewing changes nothing.
func (n *Node) Sweep(ctx context.Context) (int, error) {
	v, err := scanViewings(ctx, n.store)
	if err != nil {
		return 0, err
	}
	now := n.cfg.Now()
	closed := 0
	for ref, o := range v.open {
		node := o.joined.Node
		if node == n.id {
			continue
		}
		why := ""
		switch seen := v.nodes[node]; {
		case nodeName(node) == n.cfg.Name:
			why = "node_restarted"
		case n.cfg.Exclusive, seen == nil, seen.stopped, now.Sub(seen.last) > 3*n.cfg.HeartbeatInterval:
			why = "node_lost"
		default:
			continue // alive elsewhere
		}
		data, _ := json.Marshal(domain.ViewerLeft{UserID: o.joined.UserID, ConnectionID: ref, Node: node, Reason: why, At: now.UTC()})
		if _, err := n.store.Append(ctx, domain.ViewersStream(o.videoID), eventstore.Any,
			eventstore.EventData{Type: domain.TypeViewerLeft, Data: data}); err != nil {
			return closed, fmt.Errorf("sweep: %w", err)
		}
		closed++
	}
	return closed, nil
}
