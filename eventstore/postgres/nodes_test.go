package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/postgres"
	"github.com/videologue/videologue/internal/testenv/pgtest"
)

// liveWait bounds how long an event may take to reach a live subscription
// on another node: a notification takes milliseconds, and the poll that
// could stand in for it is set to an hour in these tests.
const liveWait = 10 * time.Second

// noPoll leaves notifications as the only way a node learns of another's
// appends.
var noPoll = postgres.Config{PollInterval: time.Hour}

func event(n int) eventstore.EventData {
	return eventstore.EventData{ID: eventstore.NewID(), Type: "noted.v1", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))}
}

// expect reads sub until it delivers the event with id, failing t if
// anything else comes first (other than CaughtUp) or nothing within
// liveWait.
func expect(t testing.TB, sub *eventstore.Subscription, id string) *eventstore.RecordedEvent {
	t.Helper()
	deadline := time.After(liveWait)
	for {
		select {
		case m, ok := <-sub.Messages():
			switch {
			case !ok:
				t.Fatalf("subscription ended: %v", sub.Err())
			case m.CaughtUp:
				continue
			case m.Event.ID != id:
				t.Fatalf("subscription delivered %s@%d (%s), want %s", m.Event.Stream, m.Event.Revision, m.Event.ID, id)
			}
			return m.Event
		case <-deadline:
			t.Fatalf("event %s not delivered within %v", id, liveWait)
		}
	}
}

func caughtUp(t testing.TB, sub *eventstore.Subscription) {
	t.Helper()
	select {
	case m := <-sub.Messages():
		if !m.CaughtUp {
			t.Fatalf("first message of a subscription to an empty log: %+v, want CaughtUp", m)
		}
	case <-time.After(liveWait):
		t.Fatal("no CaughtUp")
	}
}

func subscribe(t testing.TB, s eventstore.Store, stream string) *eventstore.Subscription {
	t.Helper()
	var sub *eventstore.Subscription
	var err error
	if stream == "" {
		sub, err = s.SubscribeToAll(t.Context(), eventstore.Start(), eventstore.SubscribeOptions{})
	} else {
		sub, err = s.SubscribeToStream(t.Context(), stream, eventstore.Start(), eventstore.SubscribeOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	caughtUp(t, sub)
	return sub
}

func mustAppend(t testing.TB, s eventstore.Store, stream string, exp eventstore.ExpectedRevision, e eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(t.Context(), stream, exp, e)
	if err != nil {
		t.Fatalf("Append(%s): %v", stream, err)
	}
	return res
}

// TestNodesSeeEachOthersAppends: two stores on one schema, as two
// Videologue nodes on one PostgreSQL, each with live subscriptions that the
// other's appends must reach.
func TestNodesSeeEachOthersAppends(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	a, b := openStore(t, url, schema, noPoll), openStore(t, url, schema, noPoll)
	allA, allB := subscribe(t, a, ""), subscribe(t, b, "")
	streamA := subscribe(t, a, "video-1")

	for i := range 20 {
		from, stream := []*postgres.Store{a, b}[i%2], []string{"video-1", "video-2"}[i/2%2]
		e := event(i)
		res := mustAppend(t, from, stream, eventstore.Any, e)
		for _, sub := range []*eventstore.Subscription{allA, allB} {
			if ev := expect(t, sub, e.ID); ev.Position != res.FirstPosition {
				t.Fatalf("event %s delivered at position %d, appended at %d", e.ID, ev.Position, res.FirstPosition)
			}
		}
		if stream == "video-1" {
			expect(t, streamA, e.ID)
		}
	}
	// Optimistic concurrency holds across nodes: b's append expecting what
	// a has already moved past fails.
	res := mustAppend(t, a, "video-3", eventstore.NoStream, event(100))
	mustAppend(t, a, "video-3", eventstore.Exact(res.NextExpected), event(101))
	if _, err := b.Append(t.Context(), "video-3", eventstore.Exact(res.NextExpected), event(102)); err == nil {
		t.Fatal("node b appended expecting a revision that node a had moved past")
	}
}

// TestListenerReconnects cuts a node's listening connection: it must
// reconnect, and its subscriptions must get what the other node appended
// meanwhile and after.
func TestListenerReconnects(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	// Named, so that only a's listener is cut.
	a, b := openStore(t, withAppName(url, "node-a"), schema, noPoll), openStore(t, url, schema, noPoll)
	sub := subscribe(t, a, "")
	e := event(0)
	mustAppend(t, b, "s", eventstore.Any, e)
	expect(t, sub, e.ID)

	if n := terminate(t, url, "node-a listener "+schema); n != 1 {
		t.Fatalf("terminated %d listener connections, want 1", n)
	}
	for i := 1; i <= 3; i++ {
		e := event(i)
		mustAppend(t, b, "s", eventstore.Any, e)
		expect(t, sub, e.ID)
		if i == 1 { // and once more while it reconnects
			terminate(t, url, "node-a listener "+schema)
		}
	}
}

// TestPollWithoutNotification: a commit whose notification never came (a
// writer that does not notify, here plain SQL) still reaches subscriptions
// within PollInterval.
func TestPollWithoutNotification(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	s := openStore(t, url, schema, postgres.Config{PollInterval: 100 * time.Millisecond})
	sub := subscribe(t, s, "")
	ev := eventstore.RecordedEvent{ID: eventstore.NewID(), Type: "foreign.v1", Stream: "foreign", Position: 1, RecordedAt: time.Now().UTC().Truncate(time.Microsecond)}
	ev.Hash = eventstore.NewChainHasher().Sum([32]byte{}, &ev)
	events, head := pgx.Identifier{schema, "events"}.Sanitize(), pgx.Identifier{schema, "head"}.Sanitize()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO "+events+" (position, stream, revision, id, type, recorded_at, hash) VALUES (1, $1, 0, $2, $3, $4, $5)",
			ev.Stream, ev.ID, ev.Type, ev.RecordedAt, ev.Hash[:]); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE "+head+" SET position = 1, hash = $1", ev.Hash[:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := expect(t, sub, ev.ID); got.Hash != ev.Hash || !got.RecordedAt.Equal(ev.RecordedAt) {
		t.Fatalf("delivered %+v, want %+v", got, ev)
	}
	// The store appends after the foreign event, on its chain.
	res := mustAppend(t, s, "foreign", eventstore.Exact(0), event(1))
	if res.FirstPosition != 2 || res.NextExpected != 1 {
		t.Fatalf("append after a foreign event: %+v", res)
	}
}

// TestCommitterReconnects cuts the connection of a node's committer
// between two appends: the next append reconnects and succeeds.
func TestCommitterReconnects(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	s := openStore(t, url, schema, postgres.Config{})
	mustAppend(t, s, "s", eventstore.NoStream, event(0))
	if n := terminate(t, url, "videologue committer "+schema); n != 1 {
		t.Fatalf("terminated %d committer connections, want 1", n)
	}
	res := mustAppend(t, s, "s", eventstore.Exact(0), event(1))
	if res.FirstPosition != 2 {
		t.Fatalf("append after reconnecting: %+v", res)
	}
}

// withAppName sets application_name in a connection string, URL or
// key=value.
func withAppName(url, name string) string {
	switch {
	case !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://"):
		return url + " application_name=" + name
	case strings.Contains(url, "?"):
		return url + "&application_name=" + name
	default:
		return url + "?application_name=" + name
	}
}

// terminate ends the server processes of the connections named app, waits
// until they are gone, and returns how many there were.
func terminate(t testing.TB, url, app string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), liveWait)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	app = app[:min(len(app), 63)]
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
