package channels

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	// 5 s).
	HeartbeatInterval time.Duration
	// Timeout is how long a node may stay silent before it is presumed
	// dead and its viewings are closed (default 3 x HeartbeatInterval).
	Timeout time.Duration
	// SweepInterval is how often the open viewings are checked against
	// the nodes' heartbeats (default HeartbeatInterval). Viewers of a
	// killed node leave within Timeout + SweepInterval.
	SweepInterval time.Duration
	// Exclusive says the store belongs to this process alone (the
	// embedded log, which a lock keeps to one process): at start, every
	// viewing of any other run is then stale, and no other node can
	// appear while it runs, so it records no heartbeats.
	Exclusive bool
	// Liveness, when set, keeps the heartbeats of the nodes sharing the
	// store outside the log, as leases of Timeout renewed every
	// HeartbeatInterval. Without it a shared store gets a NodeHeartbeat
	// event every HeartbeatInterval.
	Liveness Liveness
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Liveness holds the nodes' leases outside the permanent log, in the
// shared store's own means (a table row with an expiry on PostgreSQL).
// Its methods are safe for concurrent use.
type Liveness interface {
	// Renew records that node is alive for the next ttl, measured by the
	// store's clock.
	Renew(ctx context.Context, node string, ttl time.Duration) error
	// Alive returns the nodes whose lease has not expired.
	Alive(ctx context.Context) (map[string]bool, error)
	// Release ends node's lease, at a clean stop.
	Release(ctx context.Context, node string) error
}

// Node is one run of a server process, recorded in the nodes stream:
// NodeStarted, a NodeHeartbeat every interval (or a lease renewed in
// NodeConfig.Liveness; none on an Exclusive store), NodeStopped. Its id names
// the viewers this run tracks, so that the viewings of a run that died can
// be closed by the next run or by a live peer. It follows the whole log
// to keep an index of the open viewings and of the nodes' last signs of
// life, and sweeps that index periodically (see Sweep).
type Node struct {
	id     string
	cfg    NodeConfig
	store  Store
	logger *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	index   *viewings
	lastPos uint64 // last log position folded into index
}

// nodeBuffer is the log subscription's buffer.
const nodeBuffer = 4096

// StartNode records a new run: it folds the log into its index, closes
// the viewings that dead runs left open (see Sweep), appends NodeStarted,
// and starts the heartbeat, the periodic sweep and the index's follower,
// which run until Stop or until ctx ends.
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
		cfg.HeartbeatInterval = 5 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * cfg.HeartbeatInterval
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = cfg.HeartbeatInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	n := &Node{
		id:  cfg.Name + "/" + cfg.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(rnd[:]),
		cfg: cfg, store: store, logger: logger.With("node", cfg.Name),
		index: newViewings(),
	}
	rctx, cancel := context.WithCancel(ctx)
	sub, err := n.catchUp(rctx)
	if err != nil {
		cancel()
		return nil, err
	}
	closed, err := n.sweep(ctx, cfg.Exclusive)
	if err == nil {
		if closed > 0 {
			n.logger.Info("closed viewings left open by dead nodes", "count", closed)
		}
		// The lease first: a peer that sees NodeStarted finds it alive.
		if cfg.Liveness != nil && !cfg.Exclusive {
			err = cfg.Liveness.Renew(ctx, n.id, cfg.Timeout)
		}
	}
	if err == nil {
		err = n.record(ctx, domain.TypeNodeStarted, domain.NodeStarted{Node: n.id, Addr: cfg.Addr, At: cfg.Now().UTC()})
	}
	if err != nil {
		sub.Close()
		cancel()
		return nil, err
	}
	n.cancel = cancel
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.run(rctx, sub)
	}()
	return n, nil
}

// ID is this run's node id: "<name>/<start time>-<random>".
func (n *Node) ID() string { return n.id }

// catchUp subscribes to the log after what the index holds and folds it
// until the subscription has caught up.
func (n *Node) catchUp(ctx context.Context) (*eventstore.Subscription, error) {
	n.mu.Lock()
	from := eventstore.Start()
	if n.lastPos > 0 {
		from = eventstore.After(n.lastPos)
	}
	n.mu.Unlock()
	sub, err := n.store.SubscribeToAll(ctx, from, eventstore.SubscribeOptions{Buffer: nodeBuffer})
	if err != nil {
		return nil, fmt.Errorf("node %s: follow the log: %w", n.id, err)
	}
	for m := range sub.Messages() {
		if m.CaughtUp {
			return sub, nil
		}
		n.fold(m.Event)
	}
	err = sub.Err()
	if err == nil {
		err = ctx.Err()
	}
	return nil, fmt.Errorf("node %s: follow the log: %w", n.id, err)
}

func (n *Node) fold(ev *eventstore.RecordedEvent) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ev.Position <= n.lastPos {
		return
	}
	n.lastPos = ev.Position
	if err := n.index.apply(ev); err != nil {
		n.logger.Error("undecodable event skipped", "stream", ev.Stream, "position", ev.Position, "err", err)
	}
}

// run follows the log, beats and sweeps until ctx ends.
func (n *Node) run(ctx context.Context, sub *eventstore.Subscription) {
	var beats <-chan time.Time // none on an exclusive store
	if !n.cfg.Exclusive {
		beat := time.NewTicker(n.cfg.HeartbeatInterval)
		defer beat.Stop()
		beats = beat.C
	}
	sweep := time.NewTicker(n.cfg.SweepInterval)
	defer sweep.Stop()
	defer func() {
		if sub != nil {
			sub.Close()
		}
	}()
	var msgs <-chan eventstore.Message
	if sub != nil {
		msgs = sub.Messages()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if ok {
				if !m.CaughtUp {
					n.fold(m.Event)
				}
				continue
			}
			if err := sub.Err(); ctx.Err() == nil {
				n.logger.Warn("node's log subscription ended; resuming", "err", err)
			}
			sub, msgs = nil, nil // resumed at the next sweep tick
		case <-beats:
			if err := n.beat(ctx); err != nil && ctx.Err() == nil {
				n.logger.Error("node heartbeat failed", "err", err)
			}
		case <-sweep.C:
			if sub == nil {
				next, err := n.catchUp(ctx)
				if err != nil {
					if ctx.Err() == nil {
						n.logger.Error("node cannot follow the log", "err", err)
					}
					continue
				}
				sub, msgs = next, next.Messages()
			}
			if closed, err := n.sweep(ctx, false); err != nil && ctx.Err() == nil {
				n.logger.Error("sweep of dead nodes' viewers failed", "err", err)
			} else if closed > 0 {
				n.logger.Info("closed viewings of dead nodes", "count", closed)
			}
		}
	}
}

// Stop ends the heartbeat, the sweep and the log's follower, and appends
// NodeStopped. Call it after the socket server's Shutdown, once this
// node's viewers have left.
func (n *Node) Stop(ctx context.Context) error {
	n.cancel()
	n.wg.Wait()
	err := n.record(ctx, domain.TypeNodeStopped, domain.NodeStopped{Node: n.id, Reason: "shutdown", At: n.cfg.Now().UTC()})
	if n.cfg.Liveness != nil && !n.cfg.Exclusive {
		if rerr := n.cfg.Liveness.Release(ctx, n.id); rerr != nil {
			err = errors.Join(err, fmt.Errorf("node %s: release its lease: %w", n.id, rerr))
		}
	}
	return err
}

// beat records that this node is alive: its lease renewed, or a
// NodeHeartbeat in the log.
func (n *Node) beat(ctx context.Context) error {
	if n.cfg.Liveness != nil {
		if err := n.cfg.Liveness.Renew(ctx, n.id, n.cfg.Timeout); err != nil {
			return fmt.Errorf("node %s: renew its lease: %w", n.id, err)
		}
		return nil
	}
	return n.record(ctx, domain.TypeNodeHeartbeat, domain.NodeHeartbeat{Node: n.id, At: n.cfg.Now().UTC()})
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
