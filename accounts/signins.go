package accounts

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/internal/follow"
)

// SignIn is a started sign-in: what a cookie or token names.
type SignIn struct {
	ID        string
	UserID    int64
	ExpiresAt time.Time
}

// signIns is the read model of the sign-ins stream: which sign-ins are
// live. Every node folds the same stream, so a sign-out on one node is
// known on all of them, and a restart rebuilds it from the log.
type signIns struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time
	f      *follow.Follower

	mu     sync.RWMutex
	byID   map[string]*signInState
	byUser map[int64]map[string]struct{}
	folds  int // events folded since the last sweep of expired sign-ins
	ended  func(ids []string)
}

type signInState struct {
	userID  int64
	expires time.Time
	ended   bool
	// What the admin page shows of it: how and when it started, from where.
	via     string
	started time.Time
	addr    string
}

func (m *signIns) init(store Store, logger *slog.Logger, now func() time.Time) {
	m.store, m.logger, m.now = store, logger, now
	m.byID = make(map[string]*signInState)
	m.byUser = make(map[int64]map[string]struct{})
	m.f = follow.New(store, domain.SignInsStream, m.apply, logger)
}

// OnSignInsEnded makes ended be called with the ids of the sign-ins that
// each SignedOut event ends, from whichever node it was appended on, once
// the read model says they are ended (so a check made after ended was
// called sees them ended). It is called from the read model's goroutine
// and must not block: closing the sockets of those sign-ins is its use.
func (s *Service) OnSignInsEnded(ended func(ids []string)) {
	s.signIns.mu.Lock()
	s.signIns.ended = ended
	s.signIns.mu.Unlock()
}

func (m *signIns) apply(_ context.Context, ev *eventstore.RecordedEvent) {
	var endedIDs []string
	m.mu.Lock()
	switch ev.Type {
	case domain.TypeSignedIn:
		var e domain.SignedIn
		if err := json.Unmarshal(ev.Data, &e); err != nil || e.SignIn == "" {
			m.logger.Error("undecodable event", "stream", ev.Stream, "revision", ev.Revision, "err", err)
			break
		}
		if _, dup := m.byID[e.SignIn]; dup { // ids are random: cannot happen through StartSignIn
			m.logger.Warn("duplicate sign-in id in log ignored", "revision", ev.Revision)
			break
		}
		m.byID[e.SignIn] = &signInState{userID: e.UserID, expires: e.ExpiresAt, via: e.Via, started: ev.RecordedAt,
			addr: eventstore.DecodeMetadata(ev.Metadata).ClientAddr}
		if m.byUser[e.UserID] == nil {
			m.byUser[e.UserID] = make(map[string]struct{})
		}
		m.byUser[e.UserID][e.SignIn] = struct{}{}
	case domain.TypeSignedOut:
		var e domain.SignedOut
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			m.logger.Error("undecodable event", "stream", ev.Stream, "revision", ev.Revision, "err", err)
			break
		}
		end := func(id string) {
			if st := m.byID[id]; st != nil && st.userID == e.UserID && !st.ended {
				st.ended = true
				endedIDs = append(endedIDs, id)
			}
		}
		if e.SignIn != "" {
			end(e.SignIn)
			break
		}
		for id := range m.byUser[e.UserID] {
			if id != e.Except {
				end(id)
			}
		}
	}
	m.folds++
	if m.folds > max(1024, len(m.byID)) {
		m.sweepLocked()
	}
	ended := m.ended
	m.mu.Unlock()
	if ended != nil && len(endedIDs) > 0 {
		ended(endedIDs)
	}
}

// sweepLocked forgets expired sign-ins, so that the model holds only the
// sign-ins of the last cookie lifetime. It runs after as many folds as
// the model has entries: its cost is constant per event.
func (m *signIns) sweepLocked() {
	m.folds = 0
	now := m.now()
	for id, st := range m.byID {
		if now.After(st.expires) {
			delete(m.byID, id)
			if ids := m.byUser[st.userID]; ids != nil {
				delete(ids, id)
				if len(ids) == 0 {
					delete(m.byUser, st.userID)
				}
			}
		}
	}
}

// state is the sign-in id's state: known, live.
func (m *signIns) state(userID int64, id string) (known, live bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st := m.byID[id]
	if st == nil {
		return false, false
	}
	return true, st.userID == userID && !st.ended && m.now().Before(st.expires)
}

// SignInLive reports whether id is a live sign-in of userID: started, not
// ended, not expired. A sign-in started on another node moments ago is
// found: an unknown id first catches up with the stream. The error is the
// store's, when it cannot be read; callers treat it as not live.
func (s *Service) SignInLive(ctx context.Context, userID int64, id string) (bool, error) {
	if id == "" || userID <= 0 || s.isErased(userID) {
		return false, nil
	}
	if known, live := s.signIns.state(userID, id); known {
		return live, nil
	}
	if err := s.signIns.f.CatchUp(ctx); err != nil {
		return false, fmt.Errorf("sign-in check: %w", err)
	}
	_, live := s.signIns.state(userID, id)
	return live, nil
}

// newSignInID is 144 random bits: unguessable, and short in a cookie.
func newSignInID() string {
	var b [18]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// StartSignIn starts a sign-in of userID that lasts ttl, via how
// (domain.SignInPage or domain.SignInAPI). It returns once this node's
// read model holds it. Use it right after Register; SignInWithPassword
// checks a password first.
func (s *Service) StartSignIn(ctx context.Context, userID int64, via string, ttl time.Duration, meta eventstore.Metadata) (SignIn, error) {
	if ttl <= 0 {
		return SignIn{}, errors.New("start sign-in: ttl must be positive")
	}
	if _, err := s.Get(ctx, userID); err != nil {
		return SignIn{}, fmt.Errorf("start sign-in: %w", err)
	}
	si := SignIn{ID: newSignInID(), UserID: userID, ExpiresAt: s.cfg.Now().Add(ttl).Truncate(time.Second)}
	data, _ := json.Marshal(domain.SignedIn{UserID: userID, SignIn: si.ID, Via: via, ExpiresAt: si.ExpiresAt})
	if err := s.appendSignIns(ctx, userID, domain.TypeSignedIn, data, meta); err != nil {
		return SignIn{}, fmt.Errorf("start sign-in: %w", err)
	}
	return si, nil
}

// SignInWithPassword checks username and password like Authenticate and,
// when they are right, starts a sign-in as StartSignIn does.
//
// A password change on another node may land between the check and the
// start: the change's SignedOut event ends the sign-ins before it in the
// stream, and this one, if it came after, sees the new password when it
// looks again below and ends itself.
func (s *Service) SignInWithPassword(ctx context.Context, username, password, via string, ttl time.Duration, meta eventstore.Metadata) (User, SignIn, error) {
	u, hash, err := s.authenticate(ctx, username, password)
	if err != nil {
		return User{}, SignIn{}, err
	}
	si, err := s.StartSignIn(ctx, u.ID, via, ttl, meta)
	if err != nil {
		return User{}, SignIn{}, err
	}
	if err := s.f.CatchUp(ctx); err != nil {
		return User{}, SignIn{}, fmt.Errorf("sign in: %w", err)
	}
	if _, now, _ := s.get(u.ID); now != hash {
		if err := s.endSignIns(ctx, domain.SignedOut{UserID: u.ID, SignIn: si.ID, Reason: domain.SignOutStale}, meta); err != nil {
			return User{}, SignIn{}, fmt.Errorf("sign in: %w", err)
		}
		return User{}, SignIn{}, domain.ErrBadCredentials
	}
	return u, si, nil
}

// SignOut ends sign-in id of userID. Ending one that has ended already,
// or expired, is not an error.
func (s *Service) SignOut(ctx context.Context, userID int64, id string, meta eventstore.Metadata) error {
	if id == "" {
		return nil
	}
	return s.endSignIns(ctx, domain.SignedOut{UserID: userID, SignIn: id, Reason: domain.SignOutRequested}, meta)
}

// SignOutEverywhere ends every sign-in of userID, on every node.
func (s *Service) SignOutEverywhere(ctx context.Context, userID int64, meta eventstore.Metadata) error {
	return s.endSignIns(ctx, domain.SignedOut{UserID: userID, Reason: domain.SignOutEverywhere}, meta)
}

func (s *Service) endSignIns(ctx context.Context, e domain.SignedOut, meta eventstore.Metadata) error {
	data, _ := json.Marshal(e)
	if err := s.appendSignIns(ctx, e.UserID, domain.TypeSignedOut, data, meta); err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}

// appendSignIns appends one event to the sign-ins stream and waits until
// this node's read model has folded it. The client address is sealed
// with the key of userID, whose sign-in it is.
func (s *Service) appendSignIns(ctx context.Context, userID int64, typ string, data []byte, meta eventstore.Metadata) error {
	meta, err := s.cfg.Keys.SealMetadata(ctx, userID, meta)
	if err != nil {
		return err
	}
	res, err := s.store.Append(ctx, domain.SignInsStream, eventstore.Any,
		eventstore.EventData{Type: typ, Data: data, Metadata: meta.Encode()})
	if err != nil {
		return err
	}
	return s.signIns.f.WaitFor(ctx, int64(res.NextExpected))
}

// ChangePassword sets userID's password to next once current is proved
// right, then ends every other sign-in of the user: keep (the sign-in that
// asked) stays. A wrong current password is a *domain.ValidationError on
// "current_password"; a weak new one on "new_password". The current
// password is checked before anything else is done.
func (s *Service) ChangePassword(ctx context.Context, userID int64, current, next, keep string, meta eventstore.Metadata) error {
	u, hash, err := s.lookupID(ctx, userID)
	if err != nil {
		return err
	}
	var ok bool
	var verr error
	if err := s.cfg.Hashing.Do(ctx, func() { ok, verr = auth.VerifyPassword(current, hash) }); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if !ok {
		if verr != nil {
			s.logger.Error("stored password hash unreadable", "user_id", u.ID, "err", verr)
		}
		return &domain.ValidationError{Field: "current_password", Message: "is not your current password"}
	}
	if err := domain.ValidatePassword(next); err != nil {
		var ve *domain.ValidationError
		if errors.As(err, &ve) {
			return &domain.ValidationError{Field: "new_password", Message: ve.Message}
		}
		return err
	}
	if next == current {
		return &domain.ValidationError{Field: "new_password", Message: "must differ from your current password"}
	}
	var newHash string
	if berr := s.cfg.Hashing.Do(ctx, func() { newHash, err = auth.HashPassword(next, s.cfg.Hash) }); berr != nil {
		return fmt.Errorf("change password: %w", berr)
	}
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	meta, err = s.cfg.Keys.SealMetadata(ctx, userID, meta)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	data, _ := json.Marshal(domain.PasswordChanged{UserID: userID, PasswordHash: newHash})
	res, err := s.store.Append(ctx, domain.UsersStream, eventstore.StreamExists,
		eventstore.EventData{Type: domain.TypePasswordChanged, Data: data, Metadata: meta.Encode()})
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if err := s.f.WaitFor(ctx, int64(res.NextExpected)); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if err := s.endSignIns(ctx, domain.SignedOut{UserID: userID, Except: keep, Reason: domain.SignOutPassword}, meta); err != nil {
		return fmt.Errorf("change password: changed, but other sign-ins not ended: %w", err)
	}
	return nil
}
