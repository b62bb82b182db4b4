package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/videologue/videologue/domain"
)

// Video is an entry of the videos read model.
type Video struct {
	ID      int64     `json:"id"`
	UserID  int64     `json:"user_id"`
	Title   string    `json:"title"`
	URL     string    `json:"url"`
	Slug    string    `json:"slug"`
	AddedAt time.Time `json:"added_at"`
}

// videosProjection keeps the catalog: one record per VideoAdded.
type videosProjection struct{}

func (videosProjection) Name() string    { return NameVideos }
func (videosProjection) Version() uint32 { return 1 }
func (videosProjection) Prefix() byte    { return nsVideos }

func (videosProjection) Apply(w *Writer, ev *Event) error {
	if ev.Type != domain.TypeVideoAdded || ev.Stream != domain.VideosStream {
		return nil
	}
	body, err := ev.Body()
	if err != nil {
		return err
	}
	e := body.(*domain.VideoAdded)
	v := Video{ID: domain.IDFromRevision(ev.Revision), UserID: e.UserID, Title: e.Title, URL: e.URL, Slug: e.Slug, AddedAt: ev.RecordedAt}
	w.Put(newKey(nsVideos).i64(v.ID), encodeVideo(w.buf(), &v))
	return nil
}

func encodeVideo(b []byte, v *Video) []byte {
	return enc(b).i(v.ID).i(v.UserID).s(v.Title).s(v.URL).s(v.Slug).t(v.AddedAt)
}

func decodeVideo(p []byte) (Video, error) {
	d := dec{p: p}
	v := Video{ID: d.i(), UserID: d.i(), Title: d.s(), URL: d.s(), Slug: d.s(), AddedAt: d.t()}
	return v, d.err
}

// Video returns video id, or an error wrapping domain.ErrNotFound.
func (d *DB) Video(ctx context.Context, id int64) (Video, error) {
	v, closer, err := d.db.Get(newKey(nsVideos).i64(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return Video{}, &Error{Op: "video", Err: fmt.Errorf("video %d: %w", id, domain.ErrNotFound)}
	}
	if err != nil {
		return Video{}, &Error{Op: "video", Err: err}
	}
	defer closer.Close()
	return decodeVideo(v)
}

// Videos calls fn for every video in id order until fn returns an error.
func (d *DB) Videos(ctx context.Context, fn func(Video) error) error {
	return d.scan(ctx, newKey(nsVideos), func(k, v []byte) error {
		vid, err := decodeVideo(v)
		if err != nil {
			return err
		}
		return fn(vid)
	})
}
