// Package annotations holds the commands that change a video's
// annotations: post, edit and delete. Each is an event appended to the
// video's stream (video-<id>); an annotation's id is the revision of its
// AnnotationPosted event + 1, so ids increase within a video and are what a
// client's last_seen_id refers to. Read models of annotations live with
// their consumers (the channels' hubs, the projections), not here.
package annotations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/personal"
)

// Store is what the commands need of the log.
type Store interface {
	Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error)
	ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error)
}

// Videos knows the videos: which exist, and how long each lasts.
type Videos interface {
	// Duration returns the video's known duration in milliseconds (0
	// while unknown), or domain.ErrNotFound for a video that does not
	// exist.
	Duration(ctx context.Context, videoID int64) (int64, error)
}

// Service runs the annotation commands. It holds no state and is safe for
// concurrent use.
type Service struct {
	store  Store
	videos Videos
	keys   *personal.Keyring
}

// New returns the commands over store. videos may be nil when callers
// check that the video exists themselves (the video channel does, at
// join); posts are then checked against no known duration. keys seals
// the author's name, the text and the client address with the author's
// key; nil writes them in plaintext.
func New(store Store, videos Videos, keys *personal.Keyring) *Service {
	return &Service{store: store, videos: videos, keys: keys}
}

// seal seals an event's personal fields with userID's key: the name and
// text given, and the client address of meta.
func (s *Service) seal(ctx context.Context, userID int64, username, body *string, meta *eventstore.Metadata) error {
	var err error
	if username != nil {
		if *username, err = s.keys.Seal(ctx, userID, personal.Username, *username); err != nil {
			return err
		}
	}
	if body != nil {
		if *body, err = s.keys.Seal(ctx, userID, personal.Body, *body); err != nil {
			return err
		}
	}
	*meta, err = s.keys.SealMetadata(ctx, userID, *meta)
	return err
}

// maxAttempts bounds the retries of an edit or delete that keeps losing
// its optimistic concurrency check to posts on a busy video; past it the
// caller gets domain.ErrConflict ("try again").
const maxAttempts = 32

// pageSize is how many events an edit or delete reads at once.
const pageSize = 512

// Post pins body at moment at (milliseconds) of videoID on behalf of the
// user, and returns the new annotation's id once the event is durable.
// Rule violations are *domain.ValidationError (an at beyond the video's
// known duration among them); an unknown video is domain.ErrNotFound.
func (s *Service) Post(ctx context.Context, videoID, userID int64, username, body string, at int64, meta eventstore.Metadata) (int64, error) {
	return s.PostRange(ctx, videoID, userID, username, body, at, 0, meta)
}

// PostRange is Post for a note that covers the stretch from at to
// at+duration (milliseconds; 0 for an instant), which must end within the
// video's known duration.
func (s *Service) PostRange(ctx context.Context, videoID, userID int64, username, body string, at, duration int64, meta eventstore.Metadata) (int64, error) {
	body, err := domain.NormalizeBody(body)
	if err != nil {
		return 0, err
	}
	if err := domain.ValidateSpan(at, duration, 0); err != nil {
		return 0, err
	}
	known, err := s.duration(ctx, videoID)
	if err != nil {
		return 0, err
	}
	if err := domain.ValidateSpan(at, duration, known); err != nil {
		return 0, err
	}
	if err := s.seal(ctx, userID, &username, &body, &meta); err != nil {
		return 0, fmt.Errorf("post annotation: %w", err)
	}
	data, _ := json.Marshal(domain.AnnotationPosted{UserID: userID, Username: username, Body: body, At: at, Duration: duration})
	res, err := s.store.Append(ctx, domain.VideoStream(videoID), eventstore.Any,
		eventstore.EventData{Type: domain.TypeAnnotationPosted, Data: data, Metadata: meta.Encode()})
	if err != nil {
		return 0, fmt.Errorf("post annotation: %w", err)
	}
	return domain.IDFromRevision(res.NextExpected), nil
}

// duration checks that the video exists and returns its known duration.
func (s *Service) duration(ctx context.Context, videoID int64) (int64, error) {
	if videoID <= 0 {
		return 0, domain.ErrNotFound
	}
	if s.videos == nil {
		return 0, nil
	}
	d, err := s.videos.Duration(ctx, videoID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return 0, err
	case err != nil:
		return 0, fmt.Errorf("check video: %w", err)
	}
	return d, nil
}

// Edit replaces the text of annotation id of videoID. Only its author may:
// others get domain.ErrForbidden; a deleted one is domain.ErrAnnotationGone
// and an unknown one domain.ErrNotFound.
func (s *Service) Edit(ctx context.Context, videoID, id, userID int64, body string, meta eventstore.Metadata) error {
	return s.EditSeen(ctx, videoID, id, userID, body, -1, meta)
}

// EditSeen is Edit for a caller whose read model of the video showed the
// annotation live and userID's as of revision seen of the video's stream
// (-1: not seen). The append then first expects the stream to be still at
// seen, with no read; when it has moved on, only the events after seen
// are read. The log decides either way: a stale seen costs a read, never
// a wrong change.
func (s *Service) EditSeen(ctx context.Context, videoID, id, userID int64, body string, seen int64, meta eventstore.Metadata) error {
	body, err := domain.NormalizeBody(body)
	if err != nil {
		return err
	}
	if err := s.seal(ctx, userID, nil, &body, &meta); err != nil {
		return fmt.Errorf("edit annotation: %w", err)
	}
	data, _ := json.Marshal(domain.AnnotationEdited{AnnotationID: id, UserID: userID, Body: body})
	ev := eventstore.EventData{Type: domain.TypeAnnotationEdited, Data: data, Metadata: meta.Encode()}
	if _, err := s.change(ctx, videoID, id, seen, ev, authorOf(userID, false)); err != nil {
		return fmt.Errorf("edit annotation: %w", err)
	}
	return nil
}

// Delete withdraws annotation id of videoID, on the same terms as Edit.
func (s *Service) Delete(ctx context.Context, videoID, id, userID int64, meta eventstore.Metadata) error {
	return s.DeleteSeen(ctx, videoID, id, userID, -1, meta)
}

// DeleteSeen is Delete with what the caller has seen, as in EditSeen.
func (s *Service) DeleteSeen(ctx context.Context, videoID, id, userID, seen int64, meta eventstore.Metadata) error {
	if err := s.seal(ctx, userID, nil, nil, &meta); err != nil {
		return fmt.Errorf("delete annotation: %w", err)
	}
	data, _ := json.Marshal(domain.AnnotationDeleted{AnnotationID: id, UserID: userID})
	ev := eventstore.EventData{Type: domain.TypeAnnotationDeleted, Data: data, Metadata: meta.Encode()}
	if _, err := s.change(ctx, videoID, id, seen, ev, authorOf(userID, false)); err != nil {
		return fmt.Errorf("delete annotation: %w", err)
	}
	return nil
}

// authorOf is the check of a change by userID: the item must be an
// annotation (reply false) or a reply (reply true), live, and userID's.
func authorOf(userID int64, reply bool) func(*domain.Annotation) error {
	return func(a *domain.Annotation) error {
		if a.IsReply() != reply {
			return domain.ErrNotFound
		}
		return a.CanChange(userID)
	}
}

// change appends ev if check allows it of item id (an annotation or a
// reply), with the expectation that the video stream has not moved since
// the check: an edit can never land on an annotation deleted in between,
// nor a reply on a deleted parent. seen >= 0 is the revision as of which
// the caller saw the item pass check. It returns the revision of ev.
func (s *Service) change(ctx context.Context, videoID, id, seen int64, ev eventstore.EventData, check func(*domain.Annotation) error) (uint64, error) {
	if videoID <= 0 || id <= 0 {
		return 0, domain.ErrNotFound
	}
	stream := domain.VideoStream(videoID)
	f := folder{id: id}
	if seen >= int64(domain.RevisionFromID(id)) {
		if err := f.seed(ctx, s.store, stream, uint64(seen)); err != nil {
			return 0, err
		}
	}
	need := int64(-1) // the revision the stream is known to have reached
	for attempt := range maxAttempts {
		// What was seen needs no read until an append says the stream
		// has moved on.
		if attempt > 0 || !f.read {
			if err := f.readThrough(ctx, s.store, stream, need); err != nil {
				return 0, err
			}
		}
		if f.a == nil {
			return 0, domain.ErrNotFound
		}
		if err := check(f.a); err != nil {
			return 0, err
		}
		res, err := s.store.Append(ctx, stream, eventstore.Exact(f.last), ev)
		var wrong *eventstore.WrongExpectedRevisionError
		if !errors.As(err, &wrong) {
			return res.NextExpected, err
		}
		// Something landed after our read; it may not be readable yet
		// (appends become visible once durable): read through it and
		// check again, after a pause that breaks lockstep with writers.
		need = wrong.Actual
		if err := pause(ctx, attempt); err != nil {
			return 0, err
		}
	}
	return 0, domain.ErrConflict
}

// pause waits a little longer at each attempt, with jitter.
func pause(ctx context.Context, attempt int) error {
	d := time.Duration(attempt+1) * time.Duration(200+rand.IntN(800)) * time.Microsecond
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// folder folds the events of one annotation or reply, from its post on.
type folder struct {
	id   int64
	a    *domain.Annotation
	s    domain.Annotations
	next uint64 // next revision to read
	last uint64 // last revision read
	read bool
}

// seed starts the fold from what a read model saw: the annotation live
// as of revision seen. Its author is read from the log (its one
// AnnotationPosted event), so that a caller's mistake can never let
// someone else change it; the events between it and seen are not.
func (f *folder) seed(ctx context.Context, store Store, stream string, seen uint64) error {
	evs, err := store.ReadStream(ctx, stream, eventstore.Forwards, domain.RevisionFromID(f.id), 1)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return nil // unknown: the full read will say so
	}
	if err := f.apply(&evs[0]); err != nil {
		return err
	}
	if f.a == nil { // not an annotation's id: let the full read decide
		f.read = false
		return nil
	}
	f.last, f.next = seen, seen+1
	return nil
}

// readThrough reads the annotation's events from where it stopped, until
// the end of the stream and at least through revision need.
func (f *folder) readThrough(ctx context.Context, store Store, stream string, need int64) error {
	if !f.read {
		f.next = domain.RevisionFromID(f.id)
	}
	for {
		evs, err := store.ReadStream(ctx, stream, eventstore.Forwards, f.next, pageSize)
		if err != nil {
			return err
		}
		for i := range evs {
			if err := f.apply(&evs[i]); err != nil {
				return err
			}
		}
		if len(evs) == pageSize {
			continue
		}
		if !f.read || int64(f.last) >= need {
			return nil
		}
		// Appended but not yet durable, so not yet readable: soon.
		select {
		case <-time.After(time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *folder) apply(ev *eventstore.RecordedEvent) error {
	first := !f.read
	f.read, f.last, f.next = true, ev.Revision, ev.Revision+1
	switch ev.Type {
	case domain.TypeAnnotationPosted:
		if !first {
			return nil
		}
		var e domain.AnnotationPosted
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return fmt.Errorf("revision %d: %w", ev.Revision, err)
		}
		f.a = f.s.Posted(0, ev.Revision, e, ev.RecordedAt)
	case domain.TypeAnnotationEdited:
		var e domain.AnnotationEdited
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return fmt.Errorf("revision %d: %w", ev.Revision, err)
		}
		if e.AnnotationID == f.id {
			f.s.Edited(e, ev.RecordedAt)
		}
	case domain.TypeAnnotationDeleted:
		var e domain.AnnotationDeleted
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return fmt.Errorf("revision %d: %w", ev.Revision, err)
		}
		if e.AnnotationID == f.id {
			f.s.Deleted(e)
		}
	default:
		return f.applyReply(ev, first)
	}
	return nil
}
