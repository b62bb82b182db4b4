package projections

import (
	"context"

	"github.com/videologue/videologue/personal"
)

// The models keep personal data as the log has it, sealed with its
// user's key, and open it only to answer a query. Erasing a user deletes
// the key, so the models need no rewrite and no compaction: what they
// hold of the user no longer opens, and a rebuild from the log keeps it
// so.

// openField opens the sealed value *v of kind k of userID in place.
func (d *DB) openField(ctx context.Context, userID int64, k personal.Kind, v *string) error {
	var err error
	*v, err = d.keys.Open(ctx, userID, k, *v)
	return err
}

func (d *DB) openEntry(ctx context.Context, e *Entry) error {
	for _, f := range []struct {
		k personal.Kind
		v *string
	}{{personal.Username, &e.Username}, {personal.Body, &e.Body}, {personal.Body, &e.Previous}, {personal.Addr, &e.ClientAddr}, {personal.Device, &e.Device}} {
		if err := d.openField(ctx, e.UserID, f.k, f.v); err != nil {
			return err
		}
	}
	return nil
}

func (d *DB) openAnnotation(ctx context.Context, a *Annotation) error {
	if err := d.openField(ctx, a.UserID, personal.Username, &a.Username); err != nil {
		return err
	}
	return d.openField(ctx, a.UserID, personal.Body, &a.Body)
}

func (d *DB) openViewing(ctx context.Context, s *Viewing) error {
	if err := d.openField(ctx, s.UserID, personal.Username, &s.Username); err != nil {
		return err
	}
	return d.openField(ctx, s.UserID, personal.Device, &s.Device)
}

func (d *DB) openReply(ctx context.Context, r *Reply) error {
	if err := d.openField(ctx, r.UserID, personal.Username, &r.Username); err != nil {
		return err
	}
	return d.openField(ctx, r.UserID, personal.Body, &r.Body)
}
