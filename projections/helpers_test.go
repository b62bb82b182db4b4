package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

// item is an event to append to a stream.
type item struct {
	stream string
	ev     eventstore.EventData
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// genHistory makes a plausible history: users (one an analyst), videos,
// then n events of annotations posted, edited and deleted and viewers
// joining and leaving, with a few oddities the log may hold (a second
// leave, an edit of a deleted annotation). Within a stream the order
// matters and is kept by loadLog; across streams it does not.
func genHistory(seed uint64, users, videos, n int) []item {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var out []item
	add := func(stream, typ string, data any, m eventstore.Metadata) {
		out = append(out, item{stream, eventstore.EventData{Type: typ, Data: mustJSON(data), Metadata: m.Encode()}})
	}
	for u := 1; u <= users; u++ {
		add(domain.UsersStream, domain.TypeUserRegistered, domain.UserRegistered{Username: fmt.Sprintf("user%d", u), PasswordHash: "x"}, eventstore.Metadata{})
	}
	add(domain.UsersStream, domain.TypeRoleGranted, domain.RoleGranted{UserID: 1, Role: domain.RoleAnalyst}, eventstore.Metadata{})
	for v := 1; v <= videos; v++ {
		add(domain.VideosStream, domain.TypeVideoAdded, domain.VideoAdded{UserID: 1, Title: fmt.Sprintf("Video %d", v), URL: fmt.Sprintf("https://example.com/v%d.mp4", v)}, eventstore.Metadata{})
	}
	type ann struct {
		user    int64
		deleted bool
	}
	anns := make([][]ann, videos+1)    // per video, by id-1
	open := make([][]string, videos+1) // open connections per video
	conn := 0
	for range n {
		v := 1 + rng.IntN(videos)
		u := int64(1 + rng.IntN(users))
		meta := eventstore.Metadata{UserID: fmt.Sprint(u), ConnectionID: fmt.Sprintf("c%d", rng.IntN(1000)), ClientAddr: fmt.Sprintf("10.0.%d.%d", rng.IntN(256), rng.IntN(256))}
		switch r := rng.IntN(100); {
		case r < 45 || len(anns[v]) == 0:
			add(domain.VideoStream(int64(v)), domain.TypeAnnotationPosted, domain.AnnotationPosted{UserID: u, Username: fmt.Sprintf("user%d", u), Body: fmt.Sprintf("note %d", rng.IntN(1e6)), At: int64(rng.IntN(600_000))}, meta)
			anns[v] = append(anns[v], ann{user: u})
		case r < 53:
			id := 1 + rng.IntN(len(anns[v]))
			a := anns[v][id-1]
			add(domain.VideoStream(int64(v)), domain.TypeAnnotationEdited, domain.AnnotationEdited{AnnotationID: int64(id), UserID: a.user, Body: fmt.Sprintf("edited %d", rng.IntN(1e6))}, meta)
			anns[v] = append(anns[v], ann{deleted: true}) // an edit takes a revision too
		case r < 58:
			id := 1 + rng.IntN(len(anns[v]))
			a := anns[v][id-1]
			add(domain.VideoStream(int64(v)), domain.TypeAnnotationDeleted, domain.AnnotationDeleted{AnnotationID: int64(id), UserID: a.user}, meta)
			anns[v][id-1].deleted = true
			anns[v] = append(anns[v], ann{deleted: true})
		case r < 79 || len(open[v]) == 0:
			conn++
			c := fmt.Sprintf("conn-%d", conn)
			meta.ConnectionID = socketOf(c) // the socket that joins, a presence ref of its own
			add(domain.ViewersStream(int64(v)), domain.TypeViewerJoined, domain.ViewerJoined{UserID: u, Username: fmt.Sprintf("user%d", u), ConnectionID: c, Node: "n1", At: time.Now()}, meta)
			open[v] = append(open[v], c)
		default:
			i := rng.IntN(len(open[v]))
			c := open[v][i]
			meta.ConnectionID = socketOf(c)
			if rng.IntN(10) == 0 { // closed by another node's sweep: no metadata
				meta = eventstore.Metadata{}
			}
			add(domain.ViewersStream(int64(v)), domain.TypeViewerLeft, domain.ViewerLeft{UserID: u, ConnectionID: c, Node: "n1", Reason: "left", At: time.Now()}, meta)
			if rng.IntN(20) > 0 { // now and then the same leave twice
				open[v] = append(open[v][:i], open[v][i+1:]...)
			}
		}
	}
	return out
}

// socketOf is the id of the socket genHistory's viewing ref came from.
func socketOf(ref string) string { return "sock-" + ref }

// loadLog appends items, keeping each stream's order: one writer per
// stream, chunk events per append, streams in parallel.
func loadLog(tb testing.TB, s eventstore.Store, items []item, chunk int) {
	tb.Helper()
	byStream := map[string][]eventstore.EventData{}
	var order []string
	for _, it := range items {
		if _, ok := byStream[it.stream]; !ok {
			order = append(order, it.stream)
		}
		byStream[it.stream] = append(byStream[it.stream], it.ev)
	}
	// users and videos first: everything refers to them.
	for _, st := range []string{domain.UsersStream, domain.VideosStream} {
		if evs := byStream[st]; len(evs) > 0 {
			if _, err := s.Append(context.Background(), st, eventstore.Any, evs...); err != nil {
				tb.Fatal(err)
			}
			delete(byStream, st)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(order))
	for _, st := range order {
		evs := byStream[st]
		if len(evs) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < len(evs); i += chunk {
				if _, err := s.Append(context.Background(), st, eventstore.Any, evs[i:min(i+chunk, len(evs))]...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

func openStore(tb testing.TB, dir string) *pebble.Store {
	tb.Helper()
	s, err := pebble.Open(dir, pebble.Config{CacheBytes: 64 << 20}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func openDB(tb testing.TB, dir string) *DB {
	tb.Helper()
	db, err := Open(dir, DBConfig{}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

// env is a log and a read-model database in a temp dir, closed at
// cleanup.
type env struct {
	dir string
	log *pebble.Store
	db  *DB
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	dir := tb.TempDir()
	e := &env{dir: dir, log: openStore(tb, filepath.Join(dir, "log")), db: openDB(tb, filepath.Join(dir, "readmodels"))}
	tb.Cleanup(func() {
		e.db.Close()
		e.log.Close()
	})
	return e
}

func headOf(tb testing.TB, s Log) uint64 {
	tb.Helper()
	last, err := s.ReadAll(context.Background(), eventstore.Backwards, eventstore.End, 1)
	if err != nil {
		tb.Fatal(err)
	}
	if len(last) == 0 {
		return 0
	}
	return last[0].Position
}

// newEngine returns an Engine of ps, failing the test on error.
func newEngine(tb testing.TB, db *DB, log Log, ps []Projection, cfg Config) *Engine {
	tb.Helper()
	e, err := New(db, log, ps, cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// startRunner runs an Engine of ps live until the test ends (or stop).
func startRunner(tb testing.TB, db *DB, log Log, ps []Projection, cfg Config) (*Engine, func()) {
	tb.Helper()
	r := newEngine(tb, db, log, ps, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("engine: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return r, stop
}

func waitFor(tb testing.TB, r *Engine, pos uint64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.WaitFor(ctx, pos); err != nil {
		tb.Fatal(err)
	}
}

// rebuild rebuilds ps from the whole log.
func rebuild(tb testing.TB, db *DB, log Log, ps []Projection, cfg Config) Result {
	tb.Helper()
	res, err := newEngine(tb, db, log, ps, cfg).Rebuild(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// catchUp catches ps up with the log.
func catchUp(tb testing.TB, db *DB, log Log, ps []Projection, cfg Config) Result {
	tb.Helper()
	res, err := newEngine(tb, db, log, ps, cfg).CatchUp(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// refVideo is what a video's events add up to, folded naively from the
// log: the oracle the read models are checked against.
type refVideo struct {
	posted, edited, deleted, joins, leaves int64
	live                                   map[int64]string // id -> text
	open                                   map[string]bool
	peak                                   int64
}

// refStreamID is the id of a stream named prefix<id>, parsed apart from
// the code under test.
func refStreamID(stream, prefix string) (int64, bool) {
	rest, ok := strings.CutPrefix(stream, prefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil && id > 0
}

func referenceFold(tb testing.TB, s Log) map[int64]*refVideo {
	tb.Helper()
	out := map[int64]*refVideo{}
	get := func(v int64) *refVideo {
		if out[v] == nil {
			out[v] = &refVideo{live: map[int64]string{}, open: map[string]bool{}}
		}
		return out[v]
	}
	for from := uint64(1); ; {
		evs, err := s.ReadAll(context.Background(), eventstore.Forwards, from, 4096)
		if err != nil {
			tb.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		for _, ev := range evs {
			if v, ok := refStreamID(ev.Stream, "video-"); ok {
				r := get(v)
				switch ev.Type {
				case domain.TypeAnnotationPosted:
					var e domain.AnnotationPosted
					json.Unmarshal(ev.Data, &e)
					r.posted++
					r.live[domain.IDFromRevision(ev.Revision)] = e.Body
				case domain.TypeAnnotationEdited:
					var e domain.AnnotationEdited
					json.Unmarshal(ev.Data, &e)
					if _, ok := r.live[e.AnnotationID]; ok {
						r.edited++
						r.live[e.AnnotationID] = e.Body
					}
				case domain.TypeAnnotationDeleted:
					var e domain.AnnotationDeleted
					json.Unmarshal(ev.Data, &e)
					if _, ok := r.live[e.AnnotationID]; ok {
						r.deleted++
						delete(r.live, e.AnnotationID)
					}
				}
			}
			if v, ok := refStreamID(ev.Stream, "viewers-"); ok {
				r := get(v)
				switch ev.Type {
				case domain.TypeViewerJoined:
					var e domain.ViewerJoined
					json.Unmarshal(ev.Data, &e)
					if !r.open[e.ConnectionID] {
						r.joins++
						r.open[e.ConnectionID] = true
						r.peak = max(r.peak, int64(len(r.open)))
					}
				case domain.TypeViewerLeft:
					var e domain.ViewerLeft
					json.Unmarshal(ev.Data, &e)
					if r.open[e.ConnectionID] {
						r.leaves++
						delete(r.open, e.ConnectionID)
					}
				}
			}
		}
		from = evs[len(evs)-1].Position + 1
	}
}

// checkAgainstReference compares the activity model with the oracle.
func checkAgainstReference(tb testing.TB, db *DB, ref map[int64]*refVideo) {
	tb.Helper()
	ctx := context.Background()
	for v, r := range ref {
		c, err := db.Counts(ctx, v)
		if err != nil {
			tb.Fatal(err)
		}
		want := Counts{Posted: r.posted, Edited: r.edited, Deleted: r.deleted, Live: int64(len(r.live)), Joins: r.joins, Leaves: r.leaves, Watching: int64(len(r.open)), Peak: r.peak}
		got := Counts{Posted: c.Posted, Edited: c.Edited, Deleted: c.Deleted, Live: c.Live, Joins: c.Joins, Leaves: c.Leaves, Watching: c.Watching, Peak: c.Peak}
		if got != want {
			tb.Fatalf("video %d counts:\n got %+v\nwant %+v", v, got, want)
		}
		n := 0
		lastAt := int64(-1)
		err = db.Annotations(ctx, v, func(a Annotation) error {
			n++
			if r.live[a.ID] != a.Body {
				return fmt.Errorf("video %d annotation %d: body %q, want %q", v, a.ID, a.Body, r.live[a.ID])
			}
			if a.At < lastAt {
				return fmt.Errorf("video %d: annotations out of video-time order", v)
			}
			lastAt = a.At
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		if n != len(r.live) {
			tb.Fatalf("video %d: %d live annotations, want %d", v, n, len(r.live))
		}
		var viewers []Viewing
		err = db.Viewings(ctx, v, time.Time{}, time.Time{}, func(s Viewing) error {
			if s.Open() {
				viewers = append(viewers, s)
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		if len(viewers) != len(r.open) {
			tb.Fatalf("video %d: %d viewers, want %d", v, len(viewers), len(r.open))
		}
		for _, s := range viewers {
			if !r.open[s.PresenceRef] {
				tb.Fatalf("video %d: viewer %s is not watching", v, s.PresenceRef)
			}
			if s.ConnectionID != socketOf(s.PresenceRef) {
				tb.Fatalf("video %d: viewing %s has connection_id %q, want its socket's", v, s.PresenceRef, s.ConnectionID)
			}
		}
	}
}
