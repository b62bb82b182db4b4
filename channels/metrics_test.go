package channels_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/internal/metrics"
)

// registry is a Prometheus registry behind a channels.Observer.
type registry struct {
	t   testing.TB
	reg *prometheus.Registry
}

func observed(t testing.TB, cfg channels.Config) (*env, *registry) {
	reg := prometheus.NewRegistry()
	cfg.Observer = metrics.New(reg)
	return newEnv(t, cfg), &registry{t: t, reg: reg}
}

// value is the sample of name whose labels include labels; 0 if none.
func (r *registry) value(name string, labels map[string]string) float64 {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue()
				case m.Gauge != nil:
					return m.Gauge.GetValue()
				}
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// becomes waits until name{labels} is want.
func (r *registry) becomes(name string, labels map[string]string, want float64) {
	r.t.Helper()
	var got float64
	eventually(r.t, name+" to reach its value", 10*time.Second, func() bool {
		got = r.value(name, labels)
		return got == want
	})
}

func l(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// Joins, pushes and connects over real sockets move the counters of their
// result, and only those.
func TestMetricsCountJoinsPushesAndRefusals(t *testing.T) {
	e, r := observed(t, permissive())
	aid, aname, _ := e.user("author")
	vid := e.video(aid)
	theirs := e.post(vid, aid, aname, "first")
	e.post(vid, aid, aname, "second")
	_, _, tok := e.user("viewer")
	topic := "videos:" + itoa(vid)

	if _, resp, err := e.tryDial("", nil); err == nil || status(resp) != http.StatusForbidden {
		t.Fatalf("dial without a token: %v (%d)", err, status(resp))
	}
	r.becomes("videologue_socket_connects_total", l("transport", "websocket", "result", "auth"), 1)
	r.becomes("videologue_socket_refusals_total", l("op", "connect", "reason", "auth"), 1)

	c := e.dial(tok)
	r.becomes("videologue_socket_connects_total", l("transport", "websocket", "result", "ok"), 1)
	r.becomes("videologue_socket_connections", l("transport", "websocket"), 1)

	if _, f := c.join("videos:999999", map[string]any{}); f.reason() != "video not found" {
		t.Fatalf("join of no video: %s", f.Payload)
	}
	if _, f := c.join("rooms:1", map[string]any{}); f.reason() != "unmatched topic" {
		t.Fatalf("join of another topic: %s", f.Payload)
	}
	r.becomes("videologue_socket_joins_total", l("result", "not_found"), 2)
	if _, f := c.join(topic, map[string]any{"last_seen_id": "x"}); f.reason() == "" {
		t.Fatalf("join with a bad last_seen_id: %s", f.Payload)
	}
	r.becomes("videologue_socket_joins_total", l("result", "validation"), 1)

	jr := c.mustJoin(topic, map[string]any{})
	r.becomes("videologue_socket_joins_total", l("result", "ok"), 1)
	r.becomes("videologue_catchup_pages_total", nil, 1)
	r.becomes("videologue_catchup_annotations_total", nil, 2)
	if r.value("videologue_catchup_bytes_total", nil) < 50 {
		t.Errorf("catch-up bytes: %v for two annotations", r.value("videologue_catchup_bytes_total", nil))
	}

	pushes := []struct {
		event   string
		payload map[string]any
		result  string
	}{
		{"new_annotation", map[string]any{"body": "hello", "at": 5}, "ok"},
		{"new_annotation", map[string]any{"body": "", "at": 5}, "validation"},
		{"edit_annotation", map[string]any{"id": theirs, "body": "hijacked"}, "forbidden"},
		{"delete_annotation", map[string]any{"id": 999999}, "not_found"},
		{"no_such_event", map[string]any{}, "validation"},
	}
	for _, p := range pushes {
		c.request(jr, topic, p.event, p.payload)
		event := p.event
		if event == "no_such_event" {
			event = "other"
		}
		r.becomes("videologue_socket_pushes_total", l("event", event, "result", p.result), 1)
	}
	c.request(jr, "videos:424242", "new_annotation", map[string]any{"body": "x", "at": 1})
	r.becomes("videologue_socket_pushes_total", l("event", "new_annotation", "result", "not_found"), 1)
	c.sendRaw(websocket.TextMessage, []byte{'[', 0xff, ']'})
	r.becomes("videologue_socket_pushes_total", l("event", "other", "result", "validation"), 2)
	r.becomes("videologue_socket_refusals_total", l("op", "push", "reason", "validation"), 3)
	r.becomes("videologue_socket_refusals_total", l("op", "join", "reason", "not_found"), 2)
	r.becomes("videologue_broadcast_deliveries_total", nil, 1) // the post, to this one subscriber

	c.close()
	r.becomes("videologue_socket_connections", l("transport", "websocket"), 0)
	if got := r.value("videologue_socket_connects_total", l("transport", "websocket", "result", "ok")); got != 1 {
		t.Errorf("connects ok: %v, want 1", got)
	}
}

// A push over the user's rate is counted as a rate_limit refusal.
func TestMetricsCountRateLimits(t *testing.T) {
	e, r := observed(t, channels.Config{PushRate: 0.001, PushBurst: 1, FloodStrikes: 100})
	uid, _, tok := e.user("limited")
	topic := "videos:" + itoa(e.video(uid))
	c := e.dial(tok)
	jr := c.mustJoin(topic, map[string]any{})
	for _, want := range []string{"ok", "error"} {
		if st, _ := c.request(jr, topic, "new_annotation", map[string]any{"body": "hi", "at": 1}).reply(); st != want {
			t.Fatalf("push: %s, want %s", st, want)
		}
	}
	r.becomes("videologue_socket_pushes_total", l("event", "new_annotation", "result", "rate_limit"), 1)
	r.becomes("videologue_socket_refusals_total", l("op", "push", "reason", "rate_limit"), 1)
	r.becomes("videologue_socket_pushes_total", l("event", "new_annotation", "result", "ok"), 1)
}

// Long-poll sessions are counted apart from websockets.
func TestMetricsCountLongPollSessions(t *testing.T) {
	e, r := observed(t, permissive())
	_, _, tok := e.user("poller")
	p := &poller{t: t, e: e, user: tok}
	p.open()
	r.becomes("videologue_socket_connects_total", l("transport", "longpoll", "result", "ok"), 1)
	r.becomes("videologue_socket_connections", l("transport", "longpoll"), 1)
	if got := r.value("videologue_socket_connections", l("transport", "websocket")); got != 0 {
		t.Errorf("websocket connections: %v, want 0", got)
	}
	bad := &poller{t: t, e: e, user: "not-a-token"}
	if rep := bad.do(http.MethodGet, "", "", nil); rep.code == http.StatusOK && rep.Status == 410 {
		t.Fatal("a session opened with a bad token")
	}
	r.becomes("videologue_socket_connects_total", l("transport", "longpoll", "result", "auth"), 1)
}

// A catch-up in pages counts each page: the join reply and the pushes
// after it.
func TestMetricsCountCatchUpPages(t *testing.T) {
	cfg := permissive()
	cfg.PageSize = 2
	e, r := observed(t, cfg)
	uid, name, tok := e.user("pager")
	vid := e.video(uid)
	for i := 0; i < 5; i++ {
		e.post(vid, uid, name, "post "+itoa(int64(i)))
	}
	topic := "videos:" + itoa(vid)
	c := e.dial(tok)
	c.mustJoin(topic, map[string]any{})
	c.await(0, 10*time.Second, "caught_up", func(f frame) bool { return f.Event == "caught_up" && f.Topic == topic })
	r.becomes("videologue_catchup_annotations_total", nil, 5)
	r.becomes("videologue_catchup_pages_total", nil, 3)
}
