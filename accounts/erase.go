package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/personal"
)

// MaxEraseReasonBytes bounds an admin's reason for an erasure.
const MaxEraseReasonBytes = 200

// OnUserErased registers fn to be called, from the users stream's
// follower, after each erasure is applied (including those replayed at
// start): the video channels turn the user's annotations to erased.
func (s *Service) OnUserErased(fn func(userID int64)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.erased = append(s.erased, fn)
}

// EraseSelf erases the account of userID, who proved it with their
// password: domain.ErrBadCredentials when it is wrong.
func (s *Service) EraseSelf(ctx context.Context, userID int64, password string, meta eventstore.Metadata) error {
	u, hash, err := s.lookupID(ctx, userID)
	if err != nil {
		return err
	}
	var ok bool
	if err := s.cfg.Hashing.Do(ctx, func() { ok, _ = auth.VerifyPassword(password, hash) }); err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	if !ok {
		return domain.ErrBadCredentials
	}
	return s.Erase(ctx, u.ID, u.ID, "", meta)
}

// Erase erases user userID on behalf of by (an admin, or the user): it
// appends UserErased, which holds no personal data, and deletes the
// user's key, so that everything sealed with it reads as erased. The
// account is gone: it cannot sign in, and its name is free. An unknown or
// already erased user is domain.ErrNotFound; the only admin is
// ErrLastAdmin.
func (s *Service) Erase(ctx context.Context, userID, by int64, reason string, meta eventstore.Metadata) error {
	if len(reason) > MaxEraseReasonBytes || !utf8.ValidString(reason) {
		return &domain.ValidationError{Field: "reason", Message: fmt.Sprintf("at most %d bytes of UTF-8", MaxEraseReasonBytes)}
	}
	if s.cfg.Keys == nil {
		return errors.New("erase: this server keeps no user keys")
	}
	if _, _, err := s.lookupID(ctx, userID); err != nil {
		return err
	}
	m, err := s.cfg.Keys.SealMetadata(ctx, by, meta)
	if err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	data, _ := json.Marshal(domain.UserErased{UserID: userID, By: by, Reason: reason})
	ev := eventstore.EventData{Type: domain.TypeUserErased, Data: data, Metadata: m.Encode()}
	// Appended at the revision whose admins were counted, as revokeAdmin
	// does: two admins erasing each other at once cannot both succeed.
	var res eventstore.AppendResult
	for attempt := 0; ; attempt++ {
		if attempt == s.cfg.MaxAttempts {
			return fmt.Errorf("erase: %w", domain.ErrConflict)
		}
		rev, held, others := s.admins(userID)
		if held && others == 0 {
			return ErrLastAdmin
		}
		var wrong *eventstore.WrongExpectedRevisionError
		res, err = s.store.Append(ctx, domain.UsersStream, eventstore.Exact(uint64(rev)), ev)
		if errors.As(err, &wrong) {
			if err := s.f.WaitFor(ctx, wrong.Actual); err != nil {
				return fmt.Errorf("erase: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("erase: %w", err)
		}
		break
	}
	// The follower erases the key too (on every process, and again at
	// each start); erasing here gives the caller the key store's error.
	if err := s.cfg.Keys.Erase(ctx, userID); err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	if err := s.f.WaitFor(ctx, int64(res.NextExpected)); err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	return nil
}

// applyErased folds a UserErased: the key is deleted (again, if this
// process or another already did), the account forgotten, and the
// OnUserErased callbacks told.
func (s *Service) applyErased(ctx context.Context, ev *eventstore.RecordedEvent) {
	var e domain.UserErased
	if err := json.Unmarshal(ev.Data, &e); err != nil {
		s.logger.Error("undecodable event", "stream", ev.Stream, "revision", ev.Revision, "err", err)
		s.setRev(ev)
		return
	}
	if s.cfg.Keys != nil {
		if err := s.cfg.Keys.Erase(ctx, e.UserID); err != nil {
			s.logger.Error("erasing a user's key failed; it is tried again at the next start", "user_id", e.UserID, "err", err)
		}
	}
	s.mu.Lock()
	s.rev = int64(ev.Revision)
	if u := s.byID[e.UserID]; u != nil && !u.Erased {
		if _, key, err := domain.NormalizeUsername(u.Username); err == nil && s.byName[key] == e.UserID {
			delete(s.byName, key)
		}
		u.User = User{ID: u.ID, Username: personal.ErasedUser(u.ID), Roles: domain.Roles{}, RegisteredAt: u.RegisteredAt, Erased: true}
		u.hash = ""
	}
	fns := s.erased
	s.mu.Unlock()
	for _, fn := range fns {
		fn(e.UserID)
	}
}

// admins returns the users revision the model has seen and, at it,
// whether userID holds the admin role and how many others do.
func (s *Service) admins(userID int64) (rev int64, held bool, others int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for id, u := range s.byID {
		if u.Roles[domain.RoleAdmin] {
			if id == userID {
				held = true
			} else {
				others++
			}
		}
	}
	return s.rev, held, others
}

func (s *Service) setRev(ev *eventstore.RecordedEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev = int64(ev.Revision)
}

func (s *Service) isErased(userID int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.byID[userID]
	return u != nil && u.Erased
}
