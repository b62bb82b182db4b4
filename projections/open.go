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
	author := e.UserID
	if e.Kind.IsModeration() {
		// Its user is the reporter or the moderator, who sealed the
		// reason; the item's text (Previous) is its author's.
		a, r, _, err := d.Item(ctx, e.VideoID, e.AnnotationID)
		if err != nil {
			return err
		}
		switch {
		case a != nil:
			author = a.UserID
		case r != nil:
			author = r.UserID
		}
		if err := d.openField(ctx, e.UserID, personal.Body, &e.Reason); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		user int64
		k    personal.Kind
		v    *string
	}{{e.UserID, personal.Username, &e.Username}, {e.UserID, personal.Body, &e.Body}, {author, personal.Body, &e.Previous}, {e.UserID, personal.Addr, &e.ClientAddr}, {e.UserID, personal.Device, &e.Device}} {
		if err := d.openField(ctx, f.user, f.k, f.v); err != nil {
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
