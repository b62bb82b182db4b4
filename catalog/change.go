package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// applyUpdated folds an edit. An edit that reached the log after its
// video's deletion (the two raced) changes nothing.
func (s *Service) applyUpdated(e domain.VideoUpdated) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byID[e.VideoID]
	if !ok || s.videos[i].deleted {
		return
	}
	// Readers hold copies of Video, never a pointer into videos: writing
	// in place is safe under the lock.
	v := &s.videos[i]
	v.Title, v.URL, v.Slug = e.Title, e.URL, e.Slug
}

// OnDeleted makes deleted be called with the id of each video deleted
// after it is set, on whichever node the deletion was appended, once Get
// answers domain.ErrVideoDeleted for it. It is called from the read
// model's goroutine and must not block: telling the video's live viewers
// is its use.
func (s *Service) OnDeleted(deleted func(videoID int64)) {
	s.mu.Lock()
	s.deletedHook = deleted
	s.mu.Unlock()
}

// applyDeleted folds a deletion: the video leaves the listings.
func (s *Service) applyDeleted(e domain.VideoDeleted) {
	s.mu.Lock()
	i, ok := s.byID[e.VideoID]
	if !ok || s.videos[i].deleted {
		s.mu.Unlock()
		return
	}
	s.videos[i].deleted = true
	s.all = withoutPosition(s.all, i)
	owner := s.videos[i].UserID
	s.byUser[owner] = withoutPosition(s.byUser[owner], i)
	hook := s.deletedHook
	s.mu.Unlock()
	if hook != nil {
		hook(e.VideoID)
	}
}

// withoutPosition removes position i from idx, which is in ascending
// order. It copies: List's readers never see a slice change under them,
// though they hold the lock anyway.
func withoutPosition(idx []int, i int) []int {
	j := sort.SearchInts(idx, i)
	if j == len(idx) || idx[j] != i {
		return idx
	}
	return slices.Delete(slices.Clone(idx), j, j+1)
}

// Update gives video id a new title and URL on behalf of userID, who must
// own it or be an admin (roles are theirs). Authority is checked before
// the input: a stranger learns nothing of what would be accepted. It
// returns the video as it now is, once the read model holds it.
func (s *Service) Update(ctx context.Context, id, userID int64, roles domain.Roles, title, rawURL string, meta eventstore.Metadata) (Video, error) {
	v, err := s.Get(ctx, id)
	if err != nil {
		return Video{}, err
	}
	if err := domain.MayChangeVideo(v.UserID, userID, roles); err != nil {
		return Video{}, err
	}
	title, u, err := domain.NormalizeVideo(title, rawURL)
	if err != nil {
		return Video{}, err
	}
	if title == v.Title && u == v.URL {
		return v, nil // nothing changes: nothing to record
	}
	data, _ := json.Marshal(domain.VideoUpdated{VideoID: id, UserID: userID, Title: title, URL: u, Slug: domain.Slugify(title)})
	if err := s.appendVideos(ctx, userID, domain.TypeVideoUpdated, data, meta); err != nil {
		return Video{}, fmt.Errorf("update video: %w", err)
	}
	return s.Get(ctx, id)
}

// Delete takes video id out of the catalog on behalf of userID, who must
// own it or be an admin. Its annotations and viewings stay in the log.
// Deleting a deleted video is domain.ErrVideoDeleted.
func (s *Service) Delete(ctx context.Context, id, userID int64, roles domain.Roles, meta eventstore.Metadata) error {
	v, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := domain.MayChangeVideo(v.UserID, userID, roles); err != nil {
		return err
	}
	data, _ := json.Marshal(domain.VideoDeleted{VideoID: id, UserID: userID})
	if err := s.appendVideos(ctx, userID, domain.TypeVideoDeleted, data, meta); err != nil {
		return fmt.Errorf("delete video: %w", err)
	}
	return nil
}

// appendVideos appends one event that userID caused to the videos stream,
// its client address sealed, and waits until the read model has folded
// it.
func (s *Service) appendVideos(ctx context.Context, userID int64, typ string, data []byte, meta eventstore.Metadata) error {
	meta, err := s.keys.SealMetadata(ctx, userID, meta)
	if err != nil {
		return err
	}
	res, err := s.store.Append(ctx, domain.VideosStream, eventstore.Any,
		eventstore.EventData{Type: typ, Data: data, Metadata: meta.Encode()})
	if err != nil {
		return err
	}
	return s.f.WaitFor(ctx, int64(res.NextExpected))
}
