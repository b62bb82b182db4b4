package channels

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// NodeConfig describes this server process to the others. The zero value
// is usable.
type NodeConfig struct {
	// Name is the stable name of this server (default: the host name). A
	// restarted server keeps its name; its run gets a new id.
	Name string
	// Addr is where it listens, for the record.
	Addr string
	// HeartbeatInterval is how often NodeHeartbeat is appended (default
	// 30 s). A node silent for three intervals is presumed dead.
	HeartbeatInterval time.Duration
	// Exclusive says the store belongs to this process alone (the
	// embedded log, which a lock keeps to one process): every viewing of
	// any other run is then stale.
	Exclusive bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Node is one run of a server process, recorded in the nodes stream:
// NodeStarted, a NodeHeartbeat every interval, NodeStopped. Its id names
// the viewers this run tracks, so that the viewings of a run that died can
// be closed by the next run or (several nodes) by a live peer.
type Node struct {
	id     string
	cfg    NodeConfig
	store  Store
	logger *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartNode records a new run: first it closes the viewings that dead
// runs left open (see Sweep), then it appends NodeStarted and starts the
// heartbeat, which runs until Stop or until ctx ends.
func StartNode(ctx context.Context, store Store, cfg NodeConfig, logger *slog.Logger) (*Node, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "node"
		}
		cfg.Name = host
	}
	cfg.Name = strings.ReplaceAll(cfg.Name, "/", "-")
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	n := &Node{
		id:  cfg.Name + "/" + cfg.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(rnd[:]),
		cfg: cfg, store: store, logger: logger.With("node", cfg.Name),
	}
	closed, err := n.Sweep(ctx)
	if err != nil {
		return nil, err
	}
	if closed > 0 {
		n.logger.Info("closed viewings left open by dead nodes", "count", closed)
	}
	if err := n.record(ctx, domain.TypeNodeStarted, domain.NodeStarted{Node: n.id, Addr: cfg.Addr, At: cfg.Now().UTC()}); err != nil {
		return nil, err
	}
	hctx, cancel := context.WithCancel(ctx)
	n.cancel = cancel
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.heartbeat(hctx)
	}()
	return n, nil
}

// ID is this run's node id: "<name>/<start time>-<random>".
func (n *Node) ID() string { return n.id }

func (n *Node) heartbeat(ctx context.Context) {
	t := time.NewTicker(n.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := n.record(ctx, domain.TypeNodeHeartbeat, domain.NodeHeartbeat{Node: n.id, At: n.cfg.Now().UTC()}); err != nil && ctx.Err() == nil {
				n.logger.Error("node heartbeat failed", "err", err)
			}
		}
	}
}

// Stop ends the heartbeat and appends NodeStopped. Call it after the
// socket server's Shutdown, once this node's viewers have left.
func (n *Node) Stop(ctx context.Context) error {
	n.cancel()
	n.wg.Wait()
	return n.record(ctx, domain.TypeNodeStopped, domain.NodeStopped{Node: n.id, Reason: "shutdown", At: n.cfg.Now().UTC()})
}

func (n *Node) record(ctx context.Context, typ string, e any) error {
	data, _ := json.Marshal(e)
	if _, err := n.store.Append(ctx, domain.NodesStream, eventstore.Any, eventstore.EventData{Type: typ, Data: data}); err != nil {
		return fmt.Errorf("node %s: %w", n.id, err)
	}
	return nil
}

// nodeName is the name part of a node id.
func nodeName(id string) string {
	name, _, _ := strings.Cut(id, "/")
	return name
}
