package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/videologue/videologue/channels"
)

// socket holds the socket's collectors, each child resolved once at New:
// an observation is an atomic add, with no label lookup and no allocation.
type socket struct {
	open       [channels.NumTransports]prometheus.Gauge
	connects   [channels.NumTransports][channels.NumOutcomes]prometheus.Counter
	joins      [channels.NumOutcomes]prometheus.Counter
	pushes     [channels.NumPushEvents][channels.NumOutcomes]prometheus.Counter
	refusals   [numOps][channels.NumOutcomes]prometheus.Counter
	pages      prometheus.Counter
	pageAnns   prometheus.Counter
	pageBytes  prometheus.Counter
	collectors []prometheus.Collector
}

// op is what a refusal refused.
type op int

const (
	opConnect op = iota
	opJoin
	opPush
	numOps
)

var opNames = [numOps]string{"connect", "join", "push"}

func newSocket() *socket {
	s := &socket{}
	open := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "socket_connections",
		Help: "Open socket connections, by transport (websocket, longpoll).",
	}, []string{"transport"})
	connects := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "socket_connects_total",
		Help: "Socket connection requests, by transport and result (ok, or the class of the refusal).",
	}, []string{"transport", "result"})
	joins := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "socket_joins_total",
		Help: "Channel joins answered, by result (ok, or the class of the refusal).",
	}, []string{"result"})
	pushes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "socket_pushes_total",
		Help: "Client pushes answered, by event and result (ok, or the class of the refusal).",
	}, []string{"event", "result"})
	refusals := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "socket_refusals_total",
		Help: "Socket requests refused, by what was refused (connect, join, push) and the class of the refusal.",
	}, []string{"op", "reason"})
	s.pages = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "catchup_pages_total",
		Help: "Pages of join catch-up sent: the join reply, then each page of pushes.",
	})
	s.pageAnns = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "catchup_annotations_total",
		Help: "Annotations (posted, updated and deleted) sent in catch-up pages.",
	})
	s.pageBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "catchup_bytes_total",
		Help: "Payload bytes of catch-up pages.",
	})
	for t := range channels.NumTransports {
		s.open[t] = open.WithLabelValues(t.String())
		for o := range channels.NumOutcomes {
			s.connects[t][o] = connects.WithLabelValues(t.String(), o.String())
		}
	}
	for o := range channels.NumOutcomes {
		s.joins[o] = joins.WithLabelValues(o.String())
		for e := range channels.NumPushEvents {
			s.pushes[e][o] = pushes.WithLabelValues(e.String(), o.String())
		}
		if o == channels.OK {
			continue
		}
		for p := range numOps {
			s.refusals[p][o] = refusals.WithLabelValues(opNames[p], o.String())
		}
	}
	s.collectors = []prometheus.Collector{open, connects, joins, pushes, refusals, s.pages, s.pageAnns, s.pageBytes}
	return s
}

func (s *socket) refused(p op, o channels.Outcome) {
	if o != channels.OK && o < channels.NumOutcomes {
		s.refusals[p][o].Inc()
	}
}

var _ channels.Observer = (*Metrics)(nil)

// Connect records a connection request admitted or refused.
func (m *Metrics) Connect(t channels.Transport, o channels.Outcome) {
	if t >= channels.NumTransports || o >= channels.NumOutcomes {
		return
	}
	m.socket.connects[t][o].Inc()
	if o == channels.OK {
		m.socket.open[t].Inc()
	}
	m.socket.refused(opConnect, o)
}

// Disconnected records an admitted connection ending.
func (m *Metrics) Disconnected(t channels.Transport) {
	if t < channels.NumTransports {
		m.socket.open[t].Dec()
	}
}

// Join records a join answered.
func (m *Metrics) Join(o channels.Outcome) {
	if o >= channels.NumOutcomes {
		return
	}
	m.socket.joins[o].Inc()
	m.socket.refused(opJoin, o)
}

// Push records a push answered.
func (m *Metrics) Push(e channels.PushEvent, o channels.Outcome) {
	if e >= channels.NumPushEvents || o >= channels.NumOutcomes {
		return
	}
	m.socket.pushes[e][o].Inc()
	m.socket.refused(opPush, o)
}

// CatchUpPage records a page of catch-up sent.
func (m *Metrics) CatchUpPage(annotations, bytes int) {
	m.socket.pages.Inc()
	m.socket.pageAnns.Add(float64(annotations))
	m.socket.pageBytes.Add(float64(bytes))
}
