package annotations_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// TestReplyRules: a reply needs a live annotation of its video for a
// parent, one level deep; its author alone edits or deletes it; and
// replies and annotations cannot be changed as one another. A refusal
// writes nothing, even when the caller's view of the parent is stale.
func TestReplyRules(t *testing.T) {
	st := open(t)
	svc := annotations.New(st, videos{1: 0, 2: 0}, nil)
	ctx, meta := t.Context(), eventstore.Metadata{}
	note, _ := svc.Post(ctx, 1, 7, "ann", "a note", 0, meta)
	other, _ := svc.Post(ctx, 1, 7, "ann", "another", 0, meta)
	reply, err := svc.Reply(ctx, 1, note, 8, "bob", "  an answer ", meta)
	if err != nil || reply != other+1 {
		t.Fatalf("reply: %d, %v", reply, err)
	}
	seen := int64(domain.RevisionFromID(reply)) // the parent live as of here
	if err := svc.Delete(ctx, 1, other, 7, meta); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		evs, _ := st.ReadStream(ctx, domain.VideoStream(1), eventstore.Forwards, 0, 100)
		return len(evs)
	}
	before := count()
	for _, tc := range []struct {
		name string
		err  error
		do   func() error
	}{
		{"unknown parent", domain.ErrNotFound, func() error { _, err := svc.Reply(ctx, 1, 99, 8, "bob", "x", meta); return err }},
		{"another video's ids", domain.ErrNotFound, func() error { _, err := svc.Reply(ctx, 2, note, 8, "bob", "x", meta); return err }},
		{"a reply", domain.ErrReplyToReply, func() error { _, err := svc.Reply(ctx, 1, reply, 8, "bob", "x", meta); return err }},
		{"a deleted parent, seen live", domain.ErrAnnotationGone, func() error {
			_, err := svc.ReplySeen(ctx, 1, other, 8, "bob", "x", seen, meta)
			return err
		}},
		{"a blank body", nil, func() error { _, err := svc.Reply(ctx, 1, note, 8, "bob", " ", meta); return err }},
		{"another's reply", domain.ErrForbidden, func() error { return svc.EditReplySeen(ctx, 1, reply, 7, "x", -1, meta) }},
		{"an annotation as a reply", domain.ErrNotFound, func() error { return svc.DeleteReplySeen(ctx, 1, note, 7, -1, meta) }},
		{"a reply as an annotation", domain.ErrNotFound, func() error { return svc.Edit(ctx, 1, reply, 8, "x", meta) }},
	} {
		err := tc.do()
		var ve *domain.ValidationError
		if (tc.err == nil && !errors.As(err, &ve)) || (tc.err != nil && !errors.Is(err, tc.err)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
	if after := count(); after != before {
		t.Fatalf("refusals wrote %d events", after-before)
	}
	if err := svc.EditReplySeen(ctx, 1, reply, 8, "a better answer", -1, meta); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteReplySeen(ctx, 1, reply, 8, -1, meta); err != nil {
		t.Fatal(err)
	}
	if err := svc.EditReplySeen(ctx, 1, reply, 8, "again", -1, meta); !errors.Is(err, domain.ErrAnnotationGone) {
		t.Fatalf("edit of a deleted reply: %v", err)
	}
}

// TestReplyRacesItsParentsDelete: replies posted while the parent is
// deleted either land before the delete or are refused; none follows it
// in the log.
func TestReplyRacesItsParentsDelete(t *testing.T) {
	st := open(t)
	svc := annotations.New(st, nil, nil)
	ctx, meta := t.Context(), eventstore.Metadata{}
	note, _ := svc.Post(ctx, 1, 7, "ann", "a note", 0, meta)
	seen := int64(domain.RevisionFromID(note))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if _, err := svc.ReplySeen(ctx, 1, note, 8, "bob", "x", seen, meta); err != nil && !errors.Is(err, domain.ErrAnnotationGone) && !errors.Is(err, domain.ErrConflict) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		if err := svc.Delete(ctx, 1, note, 7, meta); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	evs, _ := st.ReadStream(ctx, domain.VideoStream(1), eventstore.Forwards, 0, 1000)
	deleted := false
	for _, ev := range evs {
		switch ev.Type {
		case domain.TypeAnnotationDeleted:
			deleted = true
		case domain.TypeReplyPosted:
			if deleted {
				t.Fatalf("a reply at revision %d follows its parent's delete", ev.Revision)
			}
		}
	}
	if !deleted {
		t.Fatal("the delete never landed")
	}
}
