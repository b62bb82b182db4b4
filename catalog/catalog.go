// Package catalog keeps Videologue's videos over the log: adding a video
// appends VideoAdded to the videos stream (its id is that event's revision
// + 1), editing and deleting one VideoUpdated and VideoDeleted, and an
// in-memory read model folded from the stream answers lookups and
// listings. The durations stream adds what viewers' players report of
// each video's duration: the read model keeps the largest.
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/internal/follow"
	"github.com/videologue/videologue/personal"
)

// Store is what the catalog needs of the log.
type Store interface {
	Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error)
	ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error)
	SubscribeToStream(ctx context.Context, stream string, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error)
}

// Video is an entry of the catalog.
type Video struct {
	ID      int64
	UserID  int64
	Title   string
	URL     string
	Slug    string
	AddedAt time.Time
	// DurationMS is the largest duration viewers' players reported, in
	// milliseconds; 0 while none has.
	DurationMS int64
	// deleted: Get answers domain.ErrVideoDeleted, and List leaves it out.
	deleted bool
}

// Service adds and lists videos. It is safe for concurrent use once
// started.
type Service struct {
	store  Store
	keys   *personal.Keyring
	logger *slog.Logger
	f      *follow.Follower
	fd     *follow.Follower // the durations stream

	mu     sync.RWMutex
	videos []Video // in id order; videos[i].ID == i+1 unless an event was unreadable
	byID   map[int64]int
	// all and byUser are positions in videos, in id order: what List
	// pages through.
	all    []int
	byUser map[int64][]int
	// durations is the largest reported per video id. It is kept apart
	// from videos: the two streams are followed independently, so a
	// report may be folded before its video is.
	durations map[int64]int64
	// deletedHook is called with each video deleted from now on.
	deletedHook func(videoID int64)
}

// New returns a catalog over store. keys seals the client address in the
// metadata of the events a user causes (nil: plaintext). Call Start
// before using it.
func New(store Store, keys *personal.Keyring, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, keys: keys, logger: logger, byID: make(map[int64]int), byUser: make(map[int64][]int), durations: make(map[int64]int64)}
	s.f = follow.New(store, domain.VideosStream, s.apply, logger)
	s.fd = follow.New(store, domain.DurationsStream, s.applyDuration, logger)
	return s
}

// Start builds the read model from the videos stream and keeps it live in
// a goroutine that runs until Close or until ctx ends.
func (s *Service) Start(ctx context.Context) error {
	if err := s.f.Start(ctx); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if err := s.fd.Start(ctx); err != nil {
		s.f.Close()
		return fmt.Errorf("catalog: durations: %w", err)
	}
	return nil
}

// Close stops the read model's goroutines.
func (s *Service) Close() {
	s.fd.Close()
	s.f.Close()
}

func (s *Service) apply(_ context.Context, ev *eventstore.RecordedEvent) {
	var err error
	switch ev.Type {
	case domain.TypeVideoAdded:
		var e domain.VideoAdded
		if err = json.Unmarshal(ev.Data, &e); err == nil {
			s.applyAdded(ev, e)
		}
	case domain.TypeVideoUpdated:
		var e domain.VideoUpdated
		if err = json.Unmarshal(ev.Data, &e); err == nil {
			s.applyUpdated(e)
		}
	case domain.TypeVideoDeleted:
		var e domain.VideoDeleted
		if err = json.Unmarshal(ev.Data, &e); err == nil {
			s.applyDeleted(e)
		}
	}
	if err != nil {
		s.logger.Error("undecodable event", "stream", ev.Stream, "revision", ev.Revision, "err", err)
	}
}

func (s *Service) applyAdded(ev *eventstore.RecordedEvent, e domain.VideoAdded) {
	v := Video{ID: domain.IDFromRevision(ev.Revision), UserID: e.UserID, Title: e.Title, URL: e.URL, Slug: e.Slug, AddedAt: ev.RecordedAt}
	s.mu.Lock()
	i := len(s.videos)
	s.byID[v.ID] = i
	s.videos = append(s.videos, v)
	s.all = append(s.all, i)
	s.byUser[v.UserID] = append(s.byUser[v.UserID], i)
	s.mu.Unlock()
}

func (s *Service) applyDuration(_ context.Context, ev *eventstore.RecordedEvent) {
	if ev.Type != domain.TypeDurationReported {
		return
	}
	var e domain.DurationReported
	if err := json.Unmarshal(ev.Data, &e); err != nil {
		s.logger.Error("undecodable event", "stream", ev.Stream, "revision", ev.Revision, "err", err)
		return
	}
	s.mu.Lock()
	s.durations[e.VideoID] = max(s.durations[e.VideoID], e.DurationMS)
	s.mu.Unlock()
}

// ReportDuration records that video videoID lasts at least ms
// milliseconds, as userID's player says, when that is more than was known
// (rounded up to a whole second; see domain.NormalizeDuration); a report
// that raises nothing writes nothing. It returns once the read model
// holds the new duration, so that the reporter's next post is checked
// against it. A bad duration is a *domain.ValidationError, an unknown
// video domain.ErrNotFound.
func (s *Service) ReportDuration(ctx context.Context, videoID, userID, ms int64, meta eventstore.Metadata) error {
	ms, err := domain.NormalizeDuration(ms)
	if err != nil {
		return err
	}
	v, err := s.Get(ctx, videoID)
	if err != nil {
		return err
	}
	if ms <= v.DurationMS {
		return nil
	}
	if meta, err = s.keys.SealMetadata(ctx, userID, meta); err != nil {
		return fmt.Errorf("report duration: %w", err)
	}
	data, _ := json.Marshal(domain.DurationReported{VideoID: videoID, UserID: userID, DurationMS: ms})
	res, err := s.store.Append(ctx, domain.DurationsStream, eventstore.Any,
		eventstore.EventData{Type: domain.TypeDurationReported, Data: data, Metadata: meta.Encode()})
	if err != nil {
		return fmt.Errorf("report duration: %w", err)
	}
	if err := s.fd.WaitFor(ctx, int64(res.NextExpected)); err != nil {
		return fmt.Errorf("report duration: %w", err)
	}
	return nil
}

// Duration returns the largest duration reported for video id, in
// milliseconds (0 while none has been), or domain.ErrNotFound.
func (s *Service) Duration(ctx context.Context, id int64) (int64, error) {
	v, err := s.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	return v.DurationMS, nil
}

// Add puts a video in the catalog on behalf of userID. A bad title or URL
// gives a *domain.ValidationError.
func (s *Service) Add(ctx context.Context, userID int64, title, rawURL string, meta eventstore.Metadata) (Video, error) {
	title, u, err := domain.NormalizeVideo(title, rawURL)
	if err != nil {
		return Video{}, err
	}
	if meta, err = s.keys.SealMetadata(ctx, userID, meta); err != nil {
		return Video{}, fmt.Errorf("add video: %w", err)
	}
	data, _ := json.Marshal(domain.VideoAdded{UserID: userID, Title: title, URL: u, Slug: domain.Slugify(title)})
	res, err := s.store.Append(ctx, domain.VideosStream, eventstore.Any,
		eventstore.EventData{Type: domain.TypeVideoAdded, Data: data, Metadata: meta.Encode()})
	if err != nil {
		return Video{}, fmt.Errorf("add video: %w", err)
	}
	if err := s.f.WaitFor(ctx, int64(res.NextExpected)); err != nil {
		return Video{}, fmt.Errorf("add video: %w", err)
	}
	return s.Get(ctx, domain.IDFromRevision(res.NextExpected))
}

// Get returns the video with id; domain.ErrNotFound when there never was
// one, domain.ErrVideoDeleted when it was deleted. A video added by
// another process moments ago is found too: a miss first catches up.
func (s *Service) Get(ctx context.Context, id int64) (Video, error) {
	if v, ok := s.get(id); ok {
		return checkDeleted(v)
	}
	if err := s.f.CatchUp(ctx); err != nil {
		return Video{}, fmt.Errorf("get video: %w", err)
	}
	if v, ok := s.get(id); ok {
		return checkDeleted(v)
	}
	return Video{}, domain.ErrNotFound
}

func checkDeleted(v Video) (Video, error) {
	if v.deleted {
		return Video{}, domain.ErrVideoDeleted
	}
	return v, nil
}

func (s *Service) get(id int64) (Video, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.byID[id]
	if !ok {
		return Video{}, false
	}
	v := s.videos[i]
	v.DurationMS = s.durations[id]
	return v, true
}

// Exists reports whether video id is in the catalog. A deleted video is
// not, and says so: the error is domain.ErrVideoDeleted, for a refusal
// that tells the client why.
func (s *Service) Exists(ctx context.Context, id int64) (bool, error) {
	_, err := s.Get(ctx, id)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, domain.ErrNotFound):
		return false, nil
	default:
		return false, err
	}
}

// Page is one page of a listing, newest first.
type Page struct {
	Videos []Video
	// Next is the After of the following page; 0 when this is the last.
	Next int64
}

// Query asks for a page of videos.
type Query struct {
	// UserID keeps only the videos that user added; 0 keeps all.
	UserID int64
	// After is the id of the last video of the previous page: the page
	// holds older videos (lower ids). 0 starts from the newest.
	After int64
	// Limit is the most videos the page holds; at least 1.
	Limit int
}

// List returns a page of videos, newest first. Its cost is that of the
// page, whatever the size of the catalog.
func (s *Service) List(ctx context.Context, q Query) Page {
	limit := max(q.Limit, 1)
	s.mu.RLock()
	defer s.mu.RUnlock()
	idx := s.all
	if q.UserID != 0 {
		idx = s.byUser[q.UserID]
	}
	// Positions in idx are in id order: the page is the limit positions
	// before the first id at or above After.
	end := len(idx)
	if q.After > 0 {
		end = sort.Search(len(idx), func(i int) bool { return s.videos[idx[i]].ID >= q.After })
	}
	start := max(0, end-limit)
	p := Page{Videos: make([]Video, 0, end-start)}
	for i := end - 1; i >= start; i-- {
		v := s.videos[idx[i]]
		v.DurationMS = s.durations[v.ID]
		p.Videos = append(p.Videos, v)
	}
	if start > 0 {
		p.Next = p.Videos[len(p.Videos)-1].ID
	}
	return p
}
