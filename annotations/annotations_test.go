package annotations_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

// videos maps the ids of existing videos to their known durations (0:
// unknown).
type videos map[int64]int64

func (v videos) Duration(_ context.Context, id int64) (int64, error) {
	d, ok := v[id]
	if !ok {
		return 0, domain.ErrNotFound
	}
	return d, nil
}

func open(t testing.TB) *pebble.Store {
	t.Helper()
	st, err := pebble.Open(t.TempDir(), pebble.Config{CacheBytes: 8 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestPostEditDelete(t *testing.T) {
	st := open(t)
	ctx := t.Context()
	s := annotations.New(st, videos{5: 0}, nil)
	meta := eventstore.Metadata{UserID: "1", ConnectionID: "c", ClientAddr: "127.0.0.1", CorrelationID: "x"}
	id, err := s.Post(ctx, 5, 1, "ann", " hello ", 100, meta)
	if err != nil || id != 1 {
		t.Fatalf("Post = %d, %v", id, err)
	}
	evs, _ := st.ReadStream(ctx, domain.VideoStream(5), eventstore.Forwards, 0, 10)
	var p domain.AnnotationPosted
	_ = json.Unmarshal(evs[0].Data, &p)
	if p.Body != "hello" || p.At != 100 || p.UserID != 1 || p.Username != "ann" || eventstore.DecodeMetadata(evs[0].Metadata) != meta {
		t.Fatalf("stored %+v with metadata %s", p, evs[0].Metadata)
	}
	var ve *domain.ValidationError
	if _, err := s.Post(ctx, 5, 1, "ann", "x", -1, meta); !errors.As(err, &ve) {
		t.Fatalf("negative at: %v", err)
	}
	if _, err := s.Post(ctx, 6, 1, "ann", "x", 1, meta); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown video: %v", err)
	}
	if err := s.Edit(ctx, 5, id, 2, "mine now", meta); !errors.Is(err, domain.ErrForbidden) {
		t.Fatalf("edit by another: %v", err)
	}
	if _, err := s.Post(ctx, 5, 2, "bob", "second", 1, meta); err != nil { // id 2
		t.Fatal(err)
	}
	if err := s.Edit(ctx, 5, id, 1, "hello again", meta); err != nil { // revision 2
		t.Fatal(err)
	}
	// Id 3 would be revision 2, which is an edit: not an annotation.
	if err := s.Edit(ctx, 5, 3, 1, "x", meta); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("edit of an id that is no annotation: %v", err)
	}
	if err := s.Delete(ctx, 5, id, 1, meta); err != nil {
		t.Fatal(err)
	}
	if err := s.Edit(ctx, 5, id, 1, "zombie", meta); !errors.Is(err, domain.ErrAnnotationGone) {
		t.Fatalf("edit after delete: %v", err)
	}
	if err := s.Delete(ctx, 5, 99, 1, meta); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("delete unknown: %v", err)
	}
	var edited domain.AnnotationEdited
	evs, _ = st.ReadStream(ctx, domain.VideoStream(5), eventstore.Forwards, 0, 10)
	_ = json.Unmarshal(evs[2].Data, &edited)
	if len(evs) != 4 || evs[2].Type != domain.TypeAnnotationEdited || edited.AnnotationID != 1 || edited.Body != "hello again" {
		t.Fatalf("stream: %d events, third %s %s", len(evs), evs[2].Type, evs[2].Data)
	}
}

// Edits check the author against the stream as it is when they land:
// concurrent posts make them retry, never lose or misplace them.
func TestEditUnderConcurrentPosts(t *testing.T) {
	st := open(t)
	ctx := t.Context()
	s := annotations.New(st, nil, nil)
	id, _ := s.Post(ctx, 1, 1, "a", "v0", 0, eventstore.Metadata{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 15 {
				if _, err := s.Post(ctx, 1, 2, "b", "noise", 0, eventstore.Metadata{}); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(2 * time.Millisecond) // a busy video, not a saturated one
			}
		}()
	}
	for i := range 5 {
		if err := s.Edit(ctx, 1, id, 1, "v"+string(rune('1'+i)), eventstore.Metadata{}); err != nil {
			t.Fatalf("edit %d: %v", i, err)
		}
	}
	wg.Wait()
	evs, _ := st.ReadStream(ctx, domain.VideoStream(1), eventstore.Forwards, 0, 1000)
	var bodies []string
	for _, ev := range evs {
		if ev.Type == domain.TypeAnnotationEdited {
			var e domain.AnnotationEdited
			_ = json.Unmarshal(ev.Data, &e)
			bodies = append(bodies, e.Body)
		}
	}
	if len(evs) != 66 || len(bodies) != 5 || bodies[4] != "v5" {
		t.Fatalf("%d events, edits %v", len(evs), bodies)
	}
}

// TestPostWithinKnownDuration: once a video's duration is known, a post
// beyond it is refused and writes nothing; without one, any valid at goes.
func TestPostWithinKnownDuration(t *testing.T) {
	st := open(t)
	ctx := t.Context()
	s := annotations.New(st, videos{1: 20000, 2: 0}, nil)
	var ve *domain.ValidationError
	if _, err := s.Post(ctx, 1, 1, "ann", "too late", 99*60*1000, eventstore.Metadata{}); !errors.As(err, &ve) || ve.Field != "at" {
		t.Fatalf("at 99 minutes on a 20-second video: %v", err)
	}
	if evs, _ := st.ReadStream(ctx, domain.VideoStream(1), eventstore.Forwards, 0, 10); len(evs) != 0 {
		t.Fatalf("a refused post wrote %d events", len(evs))
	}
	if _, err := s.Post(ctx, 1, 1, "ann", "the last moment", 20000, eventstore.Metadata{}); err != nil {
		t.Fatalf("at the end: %v", err)
	}
	if _, err := s.Post(ctx, 2, 1, "ann", "unknown length", 99*60*1000, eventstore.Metadata{}); err != nil {
		t.Fatalf("a video of unknown duration: %v", err)
	}
}

// TestPostRange: a range must end within the video's known duration; a
// refused one writes nothing, and an accepted one is written with its
// duration.
func TestPostRange(t *testing.T) {
	st := open(t)
	ctx := t.Context()
	s := annotations.New(st, videos{1: 20000, 2: 0}, nil)
	var ve *domain.ValidationError
	for _, d := range []int64{-1, 15001, domain.MaxDurationMS + 1} {
		if _, err := s.PostRange(ctx, 1, 1, "ann", "bad", 5000, d, eventstore.Metadata{}); !errors.As(err, &ve) || ve.Field != "duration" {
			t.Fatalf("duration %d from 5 s on a 20-second video: %v", d, err)
		}
	}
	if evs, _ := st.ReadStream(ctx, domain.VideoStream(1), eventstore.Forwards, 0, 10); len(evs) != 0 {
		t.Fatalf("refused posts wrote %d events", len(evs))
	}
	if _, err := s.PostRange(ctx, 1, 1, "ann", "to the end", 5000, 15000, eventstore.Metadata{}); err != nil {
		t.Fatalf("a range to the last moment: %v", err)
	}
	if _, err := s.PostRange(ctx, 2, 1, "ann", "unknown length", 5000, 99*60*1000, eventstore.Metadata{}); err != nil {
		t.Fatalf("a range on a video of unknown duration: %v", err)
	}
	evs, _ := st.ReadStream(ctx, domain.VideoStream(1), eventstore.Forwards, 0, 10)
	var e domain.AnnotationPosted
	if len(evs) != 1 || json.Unmarshal(evs[0].Data, &e) != nil || e.At != 5000 || e.Duration != 15000 {
		t.Fatalf("written: %d events, %+v", len(evs), e)
	}
}

// countingStore counts reads of the log.
type countingStore struct {
	annotations.Store
	reads int
}

func (c *countingStore) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	c.reads++
	return c.Store.ReadStream(ctx, stream, dir, from, limit)
}

// TestChangeSeen: a change whose caller saw the video up to date costs
// one read (the annotation's own event, for its author) whatever the
// history after it; a stale view costs the events after it; and the log,
// not the caller, decides who may change what.
func TestChangeSeen(t *testing.T) {
	st := open(t)
	ctx := t.Context()
	c := &countingStore{Store: st}
	s := annotations.New(c, nil, nil)
	first, err := s.Post(ctx, 1, 1, "ann", "first", 0, eventstore.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	for range 1500 {
		if _, err := s.Post(ctx, 1, 2, "bob", "later", 0, eventstore.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	head := int64(1500) // the last revision
	c.reads = 0
	if err := s.EditSeen(ctx, 1, first, 1, "first, edited", head, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if c.reads != 1 {
		t.Fatalf("an up-to-date edit read %d times, want 1", c.reads)
	}
	// Stale: the edit just appended is after what the caller saw.
	c.reads = 0
	if err := s.EditSeen(ctx, 1, first, 1, "first, edited again", head, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if c.reads < 2 || c.reads > 4 {
		t.Fatalf("a stale edit read %d times, want the annotation and what came after what was seen", c.reads)
	}
	// A caller that is wrong about the author changes nothing.
	if err := s.EditSeen(ctx, 1, first, 2, "not bob's", head+2, eventstore.Metadata{}); !errors.Is(err, domain.ErrForbidden) {
		t.Fatalf("edit by another user with a view: %v", err)
	}
	// Deleted after what the caller saw: the log says so.
	if err := s.Delete(ctx, 1, first, 1, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if err := s.EditSeen(ctx, 1, first, 1, "zombie", head+2, eventstore.Metadata{}); !errors.Is(err, domain.ErrAnnotationGone) {
		t.Fatalf("edit of an annotation deleted after the view: %v", err)
	}
	if err := s.DeleteSeen(ctx, 1, 99999, 1, head, eventstore.Metadata{}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("delete of an unknown id with a view: %v", err)
	}
	if err := s.EditSeen(ctx, 1, 2, 2, "bob's own", head, eventstore.Metadata{}); err != nil {
		t.Fatalf("bob edits his own with a stale view: %v", err)
	}
	evs, _ := st.ReadStream(ctx, domain.VideoStream(1), eventstore.Forwards, 1501, 100)
	if len(evs) != 4 {
		t.Fatalf("%d changes written, want 4 (two edits, a delete, bob's edit)", len(evs))
	}
}
