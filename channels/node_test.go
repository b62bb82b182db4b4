package channels_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/domain"
)

// TestDeadNodeViewersExpire runs a second node on the env's store, with
// its own socket server, and kills it: its heartbeats stop and nothing of
// a shutdown is recorded, while its sockets stay open. A third node
// sweeping the store closes its viewings once their node's last beat is
// older than the timeout, and viewers on the sweeper's node see them
// leave. How soon is a figure of the load tool (docs/BENCHMARKS.md), not
// of this test: a busy machine delays every tick.
func TestDeadNodeViewersExpire(t *testing.T) {
	t.Run("heartbeats in the log", func(t *testing.T) { testDeadNodeViewersExpire(t, nil) })
	t.Run("leases", func(t *testing.T) {
		leases := newMemLeases()
		testDeadNodeViewersExpire(t, leases)
		if n := leases.renewals(""); n < 3 {
			t.Fatalf("%d lease renewals", n)
		}
	})
}

// memLeases is a Liveness in memory, as a shared store keeps it.
type memLeases struct {
	mu      sync.Mutex
	expiry  map[string]time.Time
	renewed map[string]int
}

func newMemLeases() *memLeases {
	return &memLeases{expiry: map[string]time.Time{}, renewed: map[string]int{}}
}

func (l *memLeases) Renew(_ context.Context, node string, ttl time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expiry[node] = time.Now().Add(ttl)
	l.renewed[node]++
	return nil
}

func (l *memLeases) Alive(context.Context) (map[string]bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	alive := map[string]bool{}
	for node, exp := range l.expiry {
		if time.Now().Before(exp) {
			alive[node] = true
		}
	}
	return alive, nil
}

func (l *memLeases) Release(_ context.Context, node string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.expiry, node)
	return nil
}

// renewals counts node's renewals, or every node's for "".
func (l *memLeases) renewals(node string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k, r := range l.renewed {
		if node == "" || k == node {
			n += r
		}
	}
	return n
}

func testDeadNodeViewersExpire(t *testing.T, leases *memLeases) {
	e := newEnv(t, permissive())
	// The timeout is many beats long, so that a doomed node starved of CPU
	// for a while still counts as alive while it beats.
	const beat, timeout = 50 * time.Millisecond, 2 * time.Second
	fast := channels.NodeConfig{HeartbeatInterval: beat, Timeout: timeout}
	if leases != nil {
		fast.Liveness = leases
	}

	doomedCtx, kill := context.WithCancel(t.Context())
	cfg := fast
	cfg.Name = "doomed"
	doomed, err := channels.StartNode(doomedCtx, e.store, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	scfg := permissive()
	scfg.Node = doomed.ID()
	srv := channels.New(scfg, channels.Deps{
		Store: e.store, Tokens: e.tokens, Users: e.accounts, Videos: e.catalog,
		Annotations: annotations.New(e.store, e.catalog, nil),
	}, testLogger(t))
	mux := http.NewServeMux()
	mux.Handle("/socket/websocket", srv)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		shutdown(t, srv)
		hs.Close()
	})

	cfg = fast
	cfg.Name = "sweeper"
	sweeper, err := channels.StartNode(t.Context(), e.store, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	// The env's socket now belongs to the sweeper, whose heartbeats keep
	// its own viewers alive.
	scfg = permissive()
	scfg.Node = sweeper.ID()
	live := channels.New(scfg, channels.Deps{
		Store: e.store, Tokens: e.tokens, Users: e.accounts, Videos: e.catalog,
		Annotations: annotations.New(e.store, e.catalog, nil),
	}, testLogger(t))
	e.swapHandler(t, live)
	t.Cleanup(func() {
		shutdown(t, live)
		_ = sweeper.Stop(context.WithoutCancel(t.Context()))
	})

	owner, _, otok := e.user("here")
	ghost, _, gtok := e.user("ghost")
	vid := e.video(owner)
	topic := "videos:" + itoa(vid)
	here := e.dial(otok)
	here.mustJoin(topic, map[string]any{})

	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket/websocket?vsn=2.0.0&token=" + gtok
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	join, _ := json.Marshal([]any{"1", "1", topic, "phx_join", map[string]any{}})
	if err := ws.WriteMessage(websocket.TextMessage, join); err != nil {
		t.Fatal(err)
	}
	both := map[string]int{key(owner): 1, key(ghost): 1}
	here.awaitPresence(t, topic, both)

	// Sweeps while the doomed node beats keep its viewer: the doomed
	// node's beats are the clock, so the wait is for beats, not for time.
	beats := func(node string) int {
		if leases != nil {
			return leases.renewals(node)
		}
		n := 0
		for _, ev := range e.readStream(domain.NodesStream) {
			var h domain.NodeHeartbeat
			if ev.Type == domain.TypeNodeHeartbeat && json.Unmarshal(ev.Data, &h) == nil && h.Node == node {
				n++
			}
		}
		return n
	}
	start, deadline := beats(doomed.ID()), time.Now().Add(time.Minute)
	for beats(doomed.ID()) < start+6 {
		if time.Now().After(deadline) {
			t.Fatal("the doomed node did not beat 6 times in a minute")
		}
		time.Sleep(beat)
	}
	here.awaitPresence(t, topic, both)

	killed := time.Now()
	kill()
	here.awaitPresence(t, topic, map[string]int{key(owner): 1})
	t.Logf("viewer of the killed node left the presence list %v after the kill (timeout %v, sweep %v)", time.Since(killed), timeout, beat)
	var reasons []string
	for _, ev := range e.readStream(domain.ViewersStream(vid)) {
		if ev.Type == domain.TypeViewerLeft {
			var l domain.ViewerLeft
			_ = json.Unmarshal(ev.Data, &l)
			reasons = append(reasons, l.Reason)
		}
	}
	if len(reasons) == 0 || reasons[0] != "node_lost" {
		t.Fatalf("leaves recorded: %v, want node_lost", reasons)
	}
	logged := 0
	for _, ev := range e.readStream(domain.NodesStream) {
		if ev.Type == domain.TypeNodeHeartbeat {
			logged++
		}
	}
	if leases != nil && logged > 0 {
		t.Fatalf("%d heartbeats in the log beside the leases", logged)
	}
	if leases == nil && logged == 0 {
		t.Fatal("no heartbeats in the log, and no leases")
	}
}

// A node that owns its store records no heartbeats: no other node can
// appear beside it. A node sharing the store, beating at the same pace,
// is the witness that the time for several has passed.
func TestExclusiveNodeRecordsNoHeartbeats(t *testing.T) {
	e := newEnv(t, permissive())
	const beat = 10 * time.Millisecond
	own, err := channels.StartNode(t.Context(), e.store, channels.NodeConfig{Name: "owner", HeartbeatInterval: beat, Exclusive: true}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	witness, err := channels.StartNode(t.Context(), e.store, channels.NodeConfig{Name: "witness", HeartbeatInterval: beat}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	beats := func() map[string]int {
		n := map[string]int{}
		for _, ev := range e.readStream(domain.NodesStream) {
			if ev.Type == domain.TypeNodeHeartbeat {
				var h domain.NodeHeartbeat
				_ = json.Unmarshal(ev.Data, &h)
				n[h.Node]++
			}
		}
		return n
	}
	deadline := time.Now().Add(time.Minute)
	for beats()[witness.ID()] < 10 {
		if time.Now().After(deadline) {
			t.Fatal("the witness did not beat 10 times in a minute")
		}
		time.Sleep(beat)
	}
	if n := beats()[own.ID()]; n > 0 {
		t.Fatalf("the exclusive node recorded %d heartbeats", n)
	}
	for _, n := range []*channels.Node{own, witness} {
		if err := n.Stop(context.WithoutCancel(t.Context())); err != nil {
			t.Fatal(err)
		}
	}
}
