package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/kurrentdb"
	"github.com/videologue/videologue/eventstore/postgres"
)

// liveNamesake looks in the nodes stream of a shared log for a run of
// another process under name that still looks alive: a NodeStarted or
// NodeHeartbeat newer than timeout, and no NodeStopped (leasedNamesake
// looks among the leases of a store that keeps them). Two running nodes
// with one name would each close the other's viewings as leftovers of an
// earlier run of its own, so serve warns about it. It cannot refuse to
// start: a node restarted right after a crash finds its own dead run
// looking alive, and closing that run's viewings is what it should do.
// It returns the run's id, or "" when there is none.
func liveNamesake(ctx context.Context, store eventstore.Store, name string, timeout time.Duration, now time.Time) (string, error) {
	const page = 256
	stopped := map[string]bool{}
	from := eventstore.End
	for {
		evs, err := store.ReadStream(ctx, domain.NodesStream, eventstore.Backwards, from, page)
		if err != nil {
			return "", fmt.Errorf("read the nodes stream: %w", err)
		}
		for _, ev := range evs {
			if now.Sub(ev.RecordedAt) > timeout {
				return "", nil // older runs are dead by the sweep's rule
			}
			var e struct {
				Node string `json:"node"`
			}
			if json.Unmarshal(ev.Data, &e) != nil {
				continue
			}
			if run, _, _ := strings.Cut(e.Node, "/"); run != name {
				continue
			}
			switch ev.Type {
			case domain.TypeNodeStopped:
				stopped[e.Node] = true
			case domain.TypeNodeStarted, domain.TypeNodeHeartbeat:
				if !stopped[e.Node] {
					return e.Node, nil
				}
			}
		}
		if len(evs) < page || evs[len(evs)-1].Revision == 0 {
			return "", nil
		}
		from = evs[len(evs)-1].Revision - 1
	}
}

// leasedNamesake is liveNamesake among the leases of a shared store.
func leasedNamesake(ctx context.Context, l channels.Liveness, name string) (string, error) {
	alive, err := l.Alive(ctx)
	if err != nil {
		return "", fmt.Errorf("read the nodes' leases: %w", err)
	}
	for node := range alive {
		if run, _, _ := strings.Cut(node, "/"); run == name {
			return node, nil
		}
	}
	return "", nil
}

// warnLiveNamesake logs a warning when another run under this node's name
// looks alive in the shared log.
func (m *Main) warnLiveNamesake(ctx context.Context) {
	timeout := m.Config.NodeTimeout
	if timeout <= 0 { // channels.NodeConfig's defaults
		hb := m.Config.Heartbeat
		if hb <= 0 {
			hb = 5 * time.Second
		}
		timeout = 3 * hb
	}
	run, err := liveNamesake(ctx, m.Store, m.Config.Node, timeout, time.Now())
	if l := m.liveness(); l != nil && err == nil && run == "" {
		run, err = leasedNamesake(ctx, l, m.Config.Node)
	}
	switch {
	case err != nil:
		m.Logger.Warn("could not check for another node of the same name", "node", m.Config.Node, "err", err)
	case run != "":
		m.Logger.Warn("another run of this node name looks alive in the shared store: if it is still running, give each node its own --node, or each will close the other's viewers",
			"node", m.Config.Node, "other_run", run, "node_timeout", timeout)
	}
}

// liveness is where the nodes sharing the store keep their leases,
// outside the log: PostgreSQL's table of leases, KurrentDB's leases
// stream. nil for the embedded store: it has one node, which records no
// heartbeats.
func (m *Main) liveness() channels.Liveness {
	switch s := m.Store.(type) {
	case *postgres.Store:
		return s
	case *kurrentdb.Store:
		return s
	}
	return nil
}
