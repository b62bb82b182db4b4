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
	"sort"
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
	// all and byUser are positions in videos, in id order: what List
	// pages through.
	all    []int
	byUser map[int64][]int
}

// New returns a catalog over store. Call Start before using it.
func New(store Store, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, logger: logger, byID: make(map[int64]int), byUser: make(map[int64][]int)}
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
	i := len(s.videos)
	s.byID[v.ID] = i
	s.videos = append(s.videos, v)
	s.all = append(s.all, i)
	s.byUser[v.UserID] = append(s.byUser[v.UserID], i)
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
		p.Videos = append(p.Videos, s.videos[idx[i]])
	}
	if start > 0 {
		p.Next = p.Videos[len(p.Videos)-1].ID
	}
	return p
}
