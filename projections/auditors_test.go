package projections

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

func evData(tb testing.TB, typ string, v any, m eventstore.Metadata) eventstore.EventData {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return eventstore.EventData{Type: typ, Data: b, Metadata: m.Encode()}
}

// The audit trail of an edit or a delete says what changed: the
// annotation's moment, its text before and after, and who acted, as the
// timeline does.
func TestAuditTrailShowsWhatAChangeChanged(t *testing.T) {
	log := newMemLog()
	sock := eventstore.Metadata{ConnectionID: "sock-1", ClientAddr: "192.0.2.7"}
	log.add(domain.UsersStream, evData(t, domain.TypeUserRegistered, domain.UserRegistered{Username: "carol"}, eventstore.Metadata{}), t0)
	log.add(domain.VideoStream(1), evData(t, domain.TypeAnnotationPosted, domain.AnnotationPosted{UserID: 1, Username: "carol", Body: "before", At: 2500}, sock), t0.Add(time.Second))
	log.add(domain.VideoStream(1), evData(t, domain.TypeAnnotationEdited, domain.AnnotationEdited{AnnotationID: 1, UserID: 1, Body: "after"}, sock), t0.Add(2*time.Second))
	log.add(domain.VideoStream(1), evData(t, domain.TypeAnnotationDeleted, domain.AnnotationDeleted{AnnotationID: 1, UserID: 1}, sock), t0.Add(3*time.Second))
	db := openDB(t, filepath.Join(t.TempDir(), "rm"))
	defer db.Close()
	rebuild(t, db, log, Builtin(), Config{})

	var trail, timeline []Entry
	if err := db.Audit(context.Background(), AuditFilter{}, func(e Entry) error { trail = append(trail, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.Timeline(context.Background(), 1, time.Time{}, time.Time{}, func(e Entry) error { timeline = append(timeline, e); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind           Kind
		body, previous string
	}{{KindPosted, "before", ""}, {KindEdited, "after", "before"}, {KindDeleted, "", "after"}}
	if len(trail) != len(want) || len(timeline) != len(want) {
		t.Fatalf("trail %+v\ntimeline %+v", trail, timeline)
	}
	for i, w := range want {
		e := trail[i]
		if e.Kind != w.kind || e.At != 2500 || e.Body != w.body || e.Previous != w.previous || e.UserID != 1 || e.Username != "carol" || e.AnnotationID != 1 {
			t.Errorf("audit entry %d = %+v; want %s at 2500, %q after %q, by carol", i, e, w.kind, w.body, w.previous)
		}
		if e != timeline[i] {
			t.Errorf("audit entry %d differs from the timeline's:\n%+v\n%+v", i, e, timeline[i])
		}
	}
}

// connection_id is the socket's id in every read model: a comment can be
// joined to the viewing it came from. The presence ref is a field of its
// own. A departure recorded by another node (no metadata) still names the
// viewing's socket.
func TestConnectionIDIsTheSocket(t *testing.T) {
	log := newMemLog()
	sock := eventstore.Metadata{ConnectionID: "sock-1", ClientAddr: "192.0.2.7"}
	log.add(domain.ViewersStream(1), evData(t, domain.TypeViewerJoined, domain.ViewerJoined{UserID: 1, Username: "carol", ConnectionID: "Fref-1", Node: "n1"}, sock), t0)
	log.add(domain.VideoStream(1), evData(t, domain.TypeAnnotationPosted, domain.AnnotationPosted{UserID: 1, Username: "carol", Body: "hi", At: 10}, sock), t0.Add(time.Second))
	log.add(domain.ViewersStream(1), evData(t, domain.TypeViewerLeft, domain.ViewerLeft{UserID: 1, ConnectionID: "Fref-1", Node: "n1", Reason: "node_lost"}, eventstore.Metadata{}), t0.Add(2*time.Second))
	db := openDB(t, filepath.Join(t.TempDir(), "rm"))
	defer db.Close()
	rebuild(t, db, log, Builtin(), Config{})

	var timeline []Entry
	if err := db.Timeline(context.Background(), 1, time.Time{}, time.Time{}, func(e Entry) error { timeline = append(timeline, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(timeline) != 3 {
		t.Fatalf("timeline %+v", timeline)
	}
	for i, e := range timeline {
		if e.ConnectionID != "sock-1" {
			t.Errorf("timeline entry %d (%s): connection_id %q, want the socket's", i, e.Kind, e.ConnectionID)
		}
		if ref := map[bool]string{true: "Fref-1"}[e.Kind == KindJoined || e.Kind == KindLeft]; e.PresenceRef != ref {
			t.Errorf("timeline entry %d (%s): presence ref %q, want %q", i, e.Kind, e.PresenceRef, ref)
		}
	}
	var viewings []Viewing
	if err := db.Viewings(context.Background(), 1, time.Time{}, time.Time{}, func(s Viewing) error { viewings = append(viewings, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(viewings) != 1 || viewings[0].ConnectionID != "sock-1" || viewings[0].PresenceRef != "Fref-1" || viewings[0].Open() {
		t.Fatalf("viewings %+v; want one, closed, of socket sock-1 and presence ref Fref-1", viewings)
	}
}
