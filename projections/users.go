package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/videologue/videologue/domain"
)

// User is an entry of the users read model.
type User struct {
	ID           int64         `json:"id"`
	Username     string        `json:"username"`
	Roles        []domain.Role `json:"roles"` // granted roles, sorted; viewer is implied
	RegisteredAt time.Time     `json:"registered_at"`
}

// usersProjection keeps the users and their roles.
type usersProjection struct{}

func (usersProjection) Name() string    { return NameUsers }
func (usersProjection) Version() uint32 { return 1 }
func (usersProjection) Prefix() byte    { return nsUsers }

func (usersProjection) Apply(w *Writer, ev *Event) error {
	if ev.Stream != domain.UsersStream {
		return nil
	}
	body, err := ev.Body()
	if err != nil {
		return err
	}
	switch e := body.(type) {
	case *domain.UserRegistered:
		u := User{ID: domain.IDFromRevision(ev.Revision), Username: e.Username, RegisteredAt: ev.RecordedAt}
		w.Set(newKey(nsUsers, 'i').i64(u.ID), encodeUser(w.buf(), &u))
		w.Put(newKey(nsUsers, 'n').str(strings.ToLower(e.Username)), newKey().i64(u.ID))
	case *domain.RoleGranted:
		k := newKey(nsUsers, 'i').i64(e.UserID)
		v, ok, err := w.Get(k)
		if err != nil || !ok {
			return err // a grant to an unknown user changes nothing
		}
		u, err := decodeUser(v)
		if err != nil {
			return err
		}
		if !slices.Contains(u.Roles, e.Role) {
			u.Roles = append(u.Roles, e.Role)
			slices.Sort(u.Roles)
			w.Set(k, encodeUser(w.buf(), &u))
		}
	}
	return nil
}

func encodeUser(b []byte, u *User) []byte {
	e := enc(b).i(u.ID).s(u.Username).t(u.RegisteredAt).u(uint64(len(u.Roles)))
	for _, r := range u.Roles {
		e = e.s(string(r))
	}
	return e
}

func decodeUser(p []byte) (User, error) {
	d := dec{p: p}
	u := User{ID: d.i(), Username: d.s(), RegisteredAt: d.t()}
	n := d.u()
	for range min(n, 16) {
		u.Roles = append(u.Roles, domain.Role(d.s()))
	}
	return u, d.err
}

// Can reports whether u may act as r (admins may do all; everyone views).
func (u User) Can(r domain.Role) bool {
	rs := domain.Roles{}
	for _, x := range u.Roles {
		rs[x] = true
	}
	return rs.Can(r)
}

// User returns user id, or an error wrapping domain.ErrNotFound.
func (d *DB) User(ctx context.Context, id int64) (User, error) {
	v, closer, err := d.db.Get(newKey(nsUsers, 'i').i64(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return User{}, &Error{Op: "user", Err: fmt.Errorf("user %d: %w", id, domain.ErrNotFound)}
	}
	if err != nil {
		return User{}, &Error{Op: "user", Err: err}
	}
	defer closer.Close()
	return decodeUser(v)
}

// UserByName finds a user by name in any letter case.
func (d *DB) UserByName(ctx context.Context, name string) (User, error) {
	v, closer, err := d.db.Get(newKey(nsUsers, 'n').str(strings.ToLower(strings.TrimSpace(name))))
	if errors.Is(err, pebble.ErrNotFound) {
		return User{}, &Error{Op: "user", Err: fmt.Errorf("user %q: %w", name, domain.ErrNotFound)}
	}
	if err != nil {
		return User{}, &Error{Op: "user", Err: err}
	}
	id := int64(be64(v))
	closer.Close()
	return d.User(ctx, id)
}

// Users calls fn for every user in id order until fn returns an error.
func (d *DB) Users(ctx context.Context, fn func(User) error) error {
	return d.scan(ctx, newKey(nsUsers, 'i'), func(k, v []byte) error {
		u, err := decodeUser(v)
		if err != nil {
			return err
		}
		return fn(u)
	})
}
