// Package accounts keeps Videologue's users over the log: registering
// appends UserRegistered to the users stream, granting a role appends
// RoleGranted and taking it back RoleRevoked, and an in-memory read model folded from that stream answers
// lookups and sign-ins. Sign-ins (signins.go) have their own stream and
// read model. A user's id is the revision of its UserRegistered
// event + 1.
//
// Usernames are unique without any lock beside the log: Register appends
// with the expectation that the users stream is exactly at the revision the
// read model has seen, so two registrations racing for one name, in one
// process or in several sharing a store, cannot both succeed; the loser
// catches up, sees the name taken, and says so.
package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/internal/follow"
	"github.com/videologue/videologue/personal"
)

// Store is what accounts needs of the log.
type Store interface {
	Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error)
	ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error)
	SubscribeToStream(ctx context.Context, stream string, from eventstore.From, opts eventstore.SubscribeOptions) (*eventstore.Subscription, error)
}

// User is a registered person.
type User struct {
	ID           int64
	Username     string // personal.ErasedUser(ID) once erased
	Roles        domain.Roles
	RegisteredAt time.Time
	Erased       bool // the account was erased: it cannot sign in, and Get does not find it
}

// Can reports whether u may act as r.
func (u User) Can(r domain.Role) bool { return u.Roles.Can(r) }

// Config tunes the service. The zero value is usable.
type Config struct {
	// Hash are the argon2id parameters of new password hashes (default
	// auth.DefaultParams). Existing hashes carry their own.
	Hash auth.Params
	// MaxAttempts bounds Register's retries when other registrations keep
	// landing first (default 32).
	MaxAttempts int
	// Now is the clock that sign-ins expire by (default time.Now).
	Now func() time.Time
	// Hashing bounds the password hashes that Register, Authenticate,
	// SignInWithPassword and ChangePassword compute at once; past it they fail with auth.ErrBusy (default: as
	// many as GOMAXPROCS, waiting up to 2 s for a turn).
	Hashing *auth.HashBound
	// Keys seals the usernames and client addresses of new events and
	// opens them, and erases users. Nil: plaintext, and no erasure.
	Keys *personal.Keyring
}

// Service registers, authenticates and looks up users. It is safe for
// concurrent use once started.
type Service struct {
	store  Store
	cfg    Config
	logger *slog.Logger
	f      *follow.Follower
	dummy  string // a hash to verify against for unknown usernames

	// registering holds the turn of the registration appending: on one
	// node registrations take turns rather than race each other for the
	// users stream's next revision, a race all but one of each round
	// lose (with 16 at once, one in seven ran out of attempts). Other
	// nodes' registrations still race this one's, and are retried.
	registering chan struct{}

	mu     sync.RWMutex
	rev    int64 // last users revision folded in; -1 none
	byID   map[int64]*user
	byName map[string]int64 // normalized username -> id
	order  []int64          // every id, ascending: the admin's list pages through it

	signIns signIns
	erased  []func(userID int64) // OnUserErased
}

type user struct {
	User
	hash string
}

// New returns a service over store. Call Start (or Run) before using it.
func New(store Store, cfg Config, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 32
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Hashing == nil {
		cfg.Hashing = auth.NewHashBound(0, 2*time.Second)
	}
	s := &Service{store: store, cfg: cfg, logger: logger, registering: make(chan struct{}, 1), rev: -1, byID: make(map[int64]*user), byName: make(map[string]int64)}
	s.f = follow.New(store, domain.UsersStream, s.apply, logger)
	s.signIns.init(store, logger, cfg.Now)
	return s
}

// Start builds the read models from the users and sign-ins streams and
// keeps them live in goroutines that run until Close or until ctx ends.
func (s *Service) Start(ctx context.Context) error {
	dummy, err := auth.HashPassword("not a password of anyone", s.cfg.Hash)
	if err != nil {
		return err
	}
	s.dummy = dummy
	if err := s.f.Start(ctx); err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	if err := s.signIns.f.Start(ctx); err != nil {
		s.f.Close()
		return fmt.Errorf("accounts: %w", err)
	}
	return nil
}

// Close stops the read models' goroutines.
func (s *Service) Close() {
	s.signIns.f.Close()
	s.f.Close()
}

// apply folds one event of the users stream. Opening a sealed username
// and erasing a key may read and write the key store: they happen before
// the model is locked.
func (s *Service) apply(ctx context.Context, ev *eventstore.RecordedEvent) {
	var registered domain.UserRegistered
	switch ev.Type {
	case domain.TypeUserRegistered:
		if err := json.Unmarshal(ev.Data, &registered); err != nil {
			s.logger.Error("undecodable event", "stream", ev.Stream, "revision", ev.Revision, "err", err)
			s.setRev(ev)
			return
		}
		name, err := s.cfg.Keys.Open(ctx, domain.IDFromRevision(ev.Revision), personal.Username, registered.Username)
		if err != nil {
			s.logger.Error("username unreadable", "revision", ev.Revision, "err", err)
		}
		registered.Username = name
	case domain.TypeUserErased:
		s.applyErased(ctx, ev)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev = int64(ev.Revision)
	switch ev.Type {
	case domain.TypeUserRegistered:
		e := registered
		id := domain.IDFromRevision(ev.Revision)
		if e.Username == personal.ErasedUser(id) { // registered, then erased: the name is free
			s.byID[id] = &user{User: User{ID: id, Username: e.Username, Roles: domain.Roles{}, RegisteredAt: ev.RecordedAt, Erased: true}}
			s.order = append(s.order, id)
			return
		}
		_, key, err := domain.NormalizeUsername(e.Username)
		if err != nil {
			key = e.Username
		}
		if _, taken := s.byName[key]; taken { // cannot happen through Register
			s.logger.Warn("duplicate username in log ignored", "username", e.Username, "revision", ev.Revision)
			return
		}
		s.byID[id] = &user{User: User{ID: id, Username: e.Username, Roles: domain.Roles{}, RegisteredAt: ev.RecordedAt}, hash: e.PasswordHash}
		s.byName[key] = id
		s.order = append(s.order, id) // revisions only grow
	case domain.TypeRoleGranted:
		var e domain.RoleGranted
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			s.logger.Error("undecodable event", "stream", ev.Stream, "revision", ev.Revision, "err", err)
			return
		}
		if u := s.byID[e.UserID]; u != nil {
			roles := make(domain.Roles, len(u.Roles)+1) // copy: readers hold the old map
			for r := range u.Roles {
				roles[r] = true
			}
			roles[e.Role] = true
			u.Roles = roles
		}
	case domain.TypeRoleRevoked:
		var e domain.RoleRevoked
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			s.logger.Error("undecodable event", "stream", ev.Stream, "revision", ev.Revision, "err", err)
			return
		}
		if u := s.byID[e.UserID]; u != nil {
			roles := make(domain.Roles, len(u.Roles))
			for r := range u.Roles {
				if r != e.Role {
					roles[r] = true
				}
			}
			u.Roles = roles
		}
	case domain.TypePasswordChanged:
		var e domain.PasswordChanged
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			s.logger.Error("undecodable event", "stream", ev.Stream, "revision", ev.Revision, "err", err)
			return
		}
		if u := s.byID[e.UserID]; u != nil {
			u.hash = e.PasswordHash
		}
	}
}

// Register creates an account. It fails with a *domain.ValidationError for
// a bad username or password, domain.ErrUsernameTaken when the name (in
// any letter case) is someone else's, and auth.ErrBusy when too many
// password hashes are under way.
func (s *Service) Register(ctx context.Context, username, password string, meta eventstore.Metadata) (User, error) {
	display, key, err := domain.NormalizeUsername(username)
	if err != nil {
		return User{}, err
	}
	if err := domain.ValidatePassword(password); err != nil {
		return User{}, err
	}
	var hash string
	if berr := s.cfg.Hashing.Do(ctx, func() { hash, err = auth.HashPassword(password, s.cfg.Hash) }); berr != nil {
		return User{}, fmt.Errorf("register: %w", berr)
	}
	if err != nil {
		return User{}, fmt.Errorf("register: %w", err)
	}
	select {
	case s.registering <- struct{}{}:
		defer func() { <-s.registering }()
	case <-ctx.Done():
		return User{}, fmt.Errorf("register: %w", ctx.Err())
	}
	for range s.cfg.MaxAttempts {
		s.mu.RLock()
		_, taken := s.byName[key]
		rev := s.rev
		s.mu.RUnlock()
		if taken {
			return User{}, domain.ErrUsernameTaken
		}
		expected := eventstore.NoStream
		if rev >= 0 {
			expected = eventstore.Exact(uint64(rev))
		}
		// The new user's id is known before the append that makes it,
		// so the name is sealed with the key of that id: a key made for
		// an attempt that loses serves whoever gets the id.
		id := domain.IDFromRevision(uint64(rev + 1))
		sealed, err := s.cfg.Keys.Seal(ctx, id, personal.Username, display)
		if err != nil {
			return User{}, fmt.Errorf("register: %w", err)
		}
		m, err := s.cfg.Keys.SealMetadata(ctx, id, meta)
		if err != nil {
			return User{}, fmt.Errorf("register: %w", err)
		}
		data, _ := json.Marshal(domain.UserRegistered{Username: sealed, PasswordHash: hash})
		ev := eventstore.EventData{Type: domain.TypeUserRegistered, Data: data, Metadata: m.Encode()}
		res, err := s.store.Append(ctx, domain.UsersStream, expected, ev)
		var wrong *eventstore.WrongExpectedRevisionError
		switch {
		case errors.As(err, &wrong):
			// Someone registered first: see what, then try again.
			if err := s.f.WaitFor(ctx, wrong.Actual); err != nil {
				return User{}, fmt.Errorf("register: %w", err)
			}
			continue
		case err != nil:
			return User{}, fmt.Errorf("register: %w", err)
		}
		if err := s.f.WaitFor(ctx, int64(res.NextExpected)); err != nil {
			return User{}, fmt.Errorf("register: %w", err)
		}
		return s.Get(ctx, domain.IDFromRevision(res.NextExpected))
	}
	return User{}, fmt.Errorf("register: %d attempts lost to concurrent registrations: %w", s.cfg.MaxAttempts, domain.ErrConflict)
}

// Authenticate checks a username and password. Whatever is wrong, the
// error is domain.ErrBadCredentials, and an unknown name costs as much time
// as a wrong password. When too many hashes are under way it fails with
// auth.ErrBusy, before looking at the password.
func (s *Service) Authenticate(ctx context.Context, username, password string) (User, error) {
	u, _, err := s.authenticate(ctx, username, password)
	return u, err
}

// authenticate is Authenticate that also returns the hash it checked.
func (s *Service) authenticate(ctx context.Context, username, password string) (User, string, error) {
	u, hash, err := s.lookupName(ctx, username)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return User{}, "", err
	}
	if u.ID == 0 {
		hash = s.dummy
	}
	var ok bool
	var verr error
	if err := s.cfg.Hashing.Do(ctx, func() { ok, verr = auth.VerifyPassword(password, hash) }); err != nil {
		return User{}, "", fmt.Errorf("authenticate: %w", err)
	}
	if verr != nil {
		s.logger.Error("stored password hash unreadable", "user_id", u.ID, "err", verr)
	}
	if !ok || u.ID == 0 {
		return User{}, "", domain.ErrBadCredentials
	}
	return u, hash, nil
}

// Get returns the user with id, or domain.ErrNotFound. A user registered
// by another process moments ago is found too: a miss first catches up.
func (s *Service) Get(ctx context.Context, id int64) (User, error) {
	u, _, err := s.lookupID(ctx, id)
	return u, err
}

func (s *Service) lookupID(ctx context.Context, id int64) (User, string, error) {
	if u, hash, ok := s.get(id); ok {
		return u, hash, nil
	}
	if err := s.f.CatchUp(ctx); err != nil {
		return User{}, "", fmt.Errorf("get user: %w", err)
	}
	if u, hash, ok := s.get(id); ok {
		return u, hash, nil
	}
	return User{}, "", domain.ErrNotFound
}

// Username returns the display name of user id (domain.ErrNotFound).
func (s *Service) Username(ctx context.Context, id int64) (string, error) {
	u, err := s.Get(ctx, id)
	return u.Username, err
}

func (s *Service) get(id int64) (User, string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.byID[id]
	if u == nil || u.Erased {
		return User{}, "", false
	}
	return u.User, u.hash, true
}

// ByUsername finds a user by name, in any letter case.
func (s *Service) ByUsername(ctx context.Context, username string) (User, error) {
	u, _, err := s.lookupName(ctx, username)
	return u, err
}

func (s *Service) lookupName(ctx context.Context, username string) (User, string, error) {
	_, key, err := domain.NormalizeUsername(username)
	if err != nil {
		return User{}, "", domain.ErrNotFound
	}
	find := func() (User, string, bool) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if u := s.byID[s.byName[key]]; u != nil && !u.Erased {
			return u.User, u.hash, true
		}
		return User{}, "", false
	}
	if u, h, ok := find(); ok {
		return u, h, nil
	}
	if err := s.f.CatchUp(ctx); err != nil {
		return User{}, "", fmt.Errorf("find user: %w", err)
	}
	if u, h, ok := find(); ok {
		return u, h, nil
	}
	return User{}, "", domain.ErrNotFound
}

// List returns every user in id order.
func (s *Service) List(ctx context.Context) []User {
	s.mu.RLock()
	out := make([]User, 0, len(s.byID))
	for _, u := range s.byID {
		out = append(out, u.User)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
