package channels

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/websocket"
)

// BenchmarkDispatch runs frames through a connection's handler, without a
// socket or a store: the cost of the dispatch itself, refusals included.
func BenchmarkDispatch(b *testing.B) {
	srv := New(Config{FrameRate: -1, PushRate: 1e12, PushBurst: 1 << 30, AddrPushRate: -1, JoinRate: -1, AddrJoinRate: -1}, Deps{}, nil)
	c := newConn(srv, nil, httptest.NewRequest("GET", "/socket/longpoll", nil), identity{id: 1, username: "bench"}, "192.0.2.1")
	c.poll = &pollSession{wake: make(chan struct{}, 1)} // what is sent is queued, taken below
	c.subscriptions["videos:1"] = &subscription{c: c, topic: "videos:1", joinRef: "1", videoID: 1}
	ctx := context.Background()
	for _, bc := range []struct{ name, frame string }{
		{"heartbeat", `[null,"1","phoenix","heartbeat",{}]`},
		{"push-unknown-event", `["1","2","videos:1","no_such_event",{}]`},
		{"push-not-joined", `["1","2","videos:2","new_annotation",{"body":"x","at":1}]`},
		{"push-invalid", `["1","2","videos:1","new_annotation",{"body":5,"at":1}]`},
	} {
		frame := []byte(bc.frame)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.handle(ctx, websocket.TextMessage, frame)
				c.takeQueue()
			}
		})
	}
}
