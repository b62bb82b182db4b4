// Package catalog keeps Videologue's videos over the log: adding a video
// appends VideoAdded to the videos stream (its id is that event's revision
// + 1), and an in-memory read model folded from the stream answers lookups
// and listings.
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/internal/follow"
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
}

// Service adds and lists videos. It is safe for concurrent use once
// started.
type Service struct {
	store  Store
	logger *slog.Logger
	f      *follow.Follower

	mu     sync.RWMutex
	videos []Video // in id order; videos[i].ID == i+1 unless an event was unreadable
	byID   map[int64]int
}

// New returns a catalog over store. Call Start before using it.
func New(store Store, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, logger: logger, byID: make(map[int64]int)}
	s.f = follow.New(store, domain.VideosStream, s.apply, logger)
	return s
}

// Start builds the read model from the videos stream and keeps it live in
// a goroutine that runs until Close or until ctx ends.
func (s *Service) Start(ctx context.Context) error {
	if err := s.f.Start(ctx); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// Close stops the read model's goroutine.
func (s *Service) Close() { s.f.Close() }

func (s *Service) apply(ev *eventstore.RecordedEvent) {
	if ev.Type != domain.TypeVideoAdded {
		return
	}
	var e domain.VideoAdded
	if err := json.Unmarshal(ev.Data, &e); err != nil {
		s.logger.Error("undecodable event", "stream", ev.Stream, "revision", ev.Revision, "err", err)
		return
	}
	v := Video{ID: domain.IDFromRevision(ev.Revision), UserID: e.UserID, Title: e.Title, URL: e.URL, Slug: e.Slug, AddedAt: ev.RecordedAt}
	s.mu.Lock()
	s.byID[v.ID] = len(s.videos)
	s.videos = append(s.videos, v)
	s.mu.Unlock()
}

// Add puts a video in the catalog on behalf of userID. A bad title or URL
// gives a *domain.ValidationError.
func (s *Service) Add(ctx context.Context, userID int64, title, rawURL string, meta eventstore.Metadata) (Video, error) {
	title, u, err := domain.NormalizeVideo(title, rawURL)
	if err != nil {
		return Video{}, err
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

// Get returns the video with id, or domain.ErrNotFound. A video added by
// another process moments ago is found too: a miss first catches up.
func (s *Service) Get(ctx context.Context, id int64) (Video, error) {
	if v, ok := s.get(id); ok {
		return v, nil
	}
	if err := s.f.CatchUp(ctx); err != nil {
		return Video{}, fmt.Errorf("get video: %w", err)
	}
	if v, ok := s.get(id); ok {
		return v, nil
	}
	return Video{}, domain.ErrNotFound
}

func (s *Service) get(id int64) (Video, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.byID[id]
	if !ok {
		return Video{}, false
	}
	return s.videos[i], true
}

// Exists reports whether video id is in the catalog.
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

// List returns every video, newest first.
func (s *Service) List(ctx context.Context) []Video {
	return s.filter(func(Video) bool { return true })
}

// ListByUser returns the videos userID added, newest first.
func (s *Service) ListByUser(ctx context.Context, userID int64) []Video {
	return s.filter(func(v Video) bool { return v.UserID == userID })
}

func (s *Service) filter(keep func(Video) bool) []Video {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Video, 0, len(s.videos))
	for i := len(s.videos) - 1; i >= 0; i-- {
		if keep(s.videos[i]) {
			out = append(out, s.videos[i])
		}
	}
	return out
}
