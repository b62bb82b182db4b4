package system

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/internal/testenv/pgtest"
)

// nodeViewer is one viewer's socket and the annotation ids it received,
// in order, across its connections.
type nodeViewer struct {
	ws  *websocket.Conn
	ids []int64
}

// readTo reads until v has received id; false if the socket ended first.
func (v *nodeViewer) readTo(t *testing.T, id int64) bool {
	t.Helper()
	for len(v.ids) == 0 || v.ids[len(v.ids)-1] < id {
		f := readUntil(t, v.ws, func(f *frame) bool {
			var a wireAnnotation
			if f.Event == "new_annotation" && json.Unmarshal(f.Payload, &a) == nil {
				v.ids = append(v.ids, a.ID)
			}
			return true
		})
		if f == nil {
			return false
		}
	}
	return true
}

// fromReply records the annotations of a join reply.
func (v *nodeViewer) fromReply(f *frame) {
	var r struct {
		Response struct {
			Annotations []wireAnnotation `json:"annotations"`
		} `json:"response"`
	}
	if json.Unmarshal(f.Payload, &r) == nil {
		for _, a := range r.Response.Annotations {
			v.ids = append(v.ids, a.ID)
		}
	}
}

// Three nodes on one shared log, PostgreSQL's, or KurrentDB's when
// KURRENTDB_URL names a server; one is SIGKILLed. Its viewers rejoin on the
// others with the last id they saw, and every viewer ends with exactly the
// acknowledged annotations, once each and in order; the dead node's
// connections leave the presence list that the live nodes show.
func TestKilledNodeViewersRejoinElsewhereExact(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		killNodeUnderViewers(t, "postgres", url, "--store-schema", pgtest.Schema(t, url))
	})
	t.Run("kurrentdb", func(t *testing.T) {
		url := os.Getenv("KURRENTDB_URL")
		if url == "" {
			t.Skip("skipped: set KURRENTDB_URL (for example kurrentdb://localhost:2113?tls=false, see docs/DEPLOYMENT.md) to run it on KurrentDB, an optional server our machines do not run")
		}
		killNodeUnderViewers(t, "kurrentdb", url)
	})
}

func killNodeUnderViewers(t *testing.T, store, url string, extra ...string) {
	shared := append([]string{"--store", store, "--store-url", url,
		"--heartbeat", "250ms", "--node-timeout", "1500ms"}, extra...)
	nodes := []*server{
		startServer(t, append(shared, "--node", "n1")...),
		startServer(t, append(shared, "--node", "n2")...),
		startServer(t, append(shared, "--node", "n3")...),
	}
	// A server shared with earlier runs keeps their accounts.
	var run [4]byte
	_, _ = rand.Read(run[:])
	users := nodes[0].signUpMany(t, fmt.Sprintf("mn%x-", run), 43, 7)
	video := nodes[0].addVideo(t, users[0], "three nodes")

	// Viewers 0..5 on node i mod 3; one poster on each node.
	viewers := make([]*nodeViewer, 6)
	for i := range viewers {
		p, _ := nodes[i%3].poster(t, users[i], video, map[string]any{})
		viewers[i] = &nodeViewer{ws: p.ws}
	}
	posters := make([]*poster, 3)
	for i := range posters {
		posters[i], _ = nodes[i].poster(t, users[6], video, map[string]any{})
	}
	var acked []int64
	postOn := func(p *poster, n int) {
		t.Helper()
		for range n {
			id, reason, ok := p.post(t, fmt.Sprint("post ", len(acked)))
			if !ok || reason != "" {
				t.Fatalf("post: ok %v, reason %q", ok, reason)
			}
			acked = append(acked, id)
		}
	}
	for _, p := range posters {
		postOn(p, 3)
	}
	for i, v := range viewers {
		if !v.readTo(t, slices.Max(acked)) {
			t.Fatalf("viewer %d: socket ended before id %d (has %v)", i, slices.Max(acked), v.ids)
		}
	}

	nodes[2].kill()
	postOn(posters[0], 3) // while node 3's viewers are away
	postOn(posters[1], 3)
	for i, v := range viewers {
		if i%3 != 2 {
			continue
		}
		if v.readTo(t, slices.Max(acked)) {
			t.Fatalf("viewer %d: still reading from a killed node", i)
		}
		last := v.ids[len(v.ids)-1]
		p, reply := nodes[i%2].poster(t, users[i], video, map[string]any{"last_seen_id": last})
		v.ws = p.ws
		v.fromReply(reply)
	}
	postOn(posters[1], 2)
	for i, v := range viewers {
		if !v.readTo(t, slices.Max(acked)) {
			t.Fatalf("viewer %d: socket ended before id %d (has %v)", i, slices.Max(acked), v.ids)
		}
		if !slices.Equal(v.ids, acked) {
			t.Errorf("viewer %d received %v, want %v", i, v.ids, acked)
		}
	}

	// The dead node's connections (two viewers, one poster) leave the
	// list: then it holds the six viewers, the two live posters and the
	// watcher.
	w, _ := nodes[0].poster(t, users[0], video, map[string]any{})
	refs := map[string]bool{}
	type metas map[string]struct {
		Metas []struct {
			PhxRef string `json:"phx_ref"`
		} `json:"metas"`
	}
	apply := func(m metas, add bool) {
		for _, l := range m {
			for _, meta := range l.Metas {
				if add {
					refs[meta.PhxRef] = true
				} else {
					delete(refs, meta.PhxRef)
				}
			}
		}
	}
	for len(refs) != 9 {
		f := readUntil(t, w.ws, func(f *frame) bool { return f.Event == "presence_state" || f.Event == "presence_diff" })
		if f == nil {
			t.Fatalf("presence: socket ended with %d connections listed, want 9", len(refs))
		}
		var state metas
		var diff struct{ Joins, Leaves metas }
		switch {
		case f.Event == "presence_state" && json.Unmarshal(f.Payload, &state) == nil:
			clear(refs)
			apply(state, true)
		case f.Event == "presence_diff" && json.Unmarshal(f.Payload, &diff) == nil:
			apply(diff.Joins, true)
			apply(diff.Leaves, false)
		}
	}
}
