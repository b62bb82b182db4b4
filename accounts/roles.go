package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// ErrRoleNotHeld: a role was to be revoked from a user who does not hold
// it.
var ErrRoleNotHeld = errors.New("the user does not hold that role")

// Grant gives user the role; by is the admin granting it (0: the system,
// for example the command line).
func (s *Service) Grant(ctx context.Context, userID int64, role domain.Role, by int64, note string, meta eventstore.Metadata) error {
	if _, err := domain.ParseRole(string(role)); err != nil {
		return err
	}
	if _, err := s.Get(ctx, userID); err != nil {
		return err
	}
	meta, err := s.cfg.Keys.SealMetadata(ctx, by, meta)
	if err != nil {
		return fmt.Errorf("grant role: %w", err)
	}
	data, _ := json.Marshal(domain.RoleGranted{UserID: userID, Role: role, GrantedBy: by, Note: note})
	res, err := s.store.Append(ctx, domain.UsersStream, eventstore.StreamExists,
		eventstore.EventData{Type: domain.TypeRoleGranted, Data: data, Metadata: meta.Encode()})
	if err != nil {
		return fmt.Errorf("grant role: %w", err)
	}
	if err := s.f.WaitFor(ctx, int64(res.NextExpected)); err != nil {
		return fmt.Errorf("grant role: %w", err)
	}
	return nil
}

// Revoke takes the role back from user; by is the admin revoking it (0:
// the system, for example the command line). Revoking a role the user
// does not hold fails with ErrRoleNotHeld and records nothing.
func (s *Service) Revoke(ctx context.Context, userID int64, role domain.Role, by int64, note string, meta eventstore.Metadata) error {
	if _, err := domain.ParseRole(string(role)); err != nil {
		return err
	}
	u, err := s.Get(ctx, userID)
	if err != nil {
		return err
	}
	if !u.Roles[role] {
		return fmt.Errorf("revoke role: %s: %w", role, ErrRoleNotHeld)
	}
	meta, err = s.cfg.Keys.SealMetadata(ctx, by, meta)
	if err != nil {
		return fmt.Errorf("revoke role: %w", err)
	}
	if role == domain.RoleAdmin {
		return s.revokeAdmin(ctx, userID, by, note, meta) // admin.go
	}
	data, _ := json.Marshal(domain.RoleRevoked{UserID: userID, Role: role, RevokedBy: by, Note: note})
	res, err := s.store.Append(ctx, domain.UsersStream, eventstore.StreamExists,
		eventstore.EventData{Type: domain.TypeRoleRevoked, Data: data, Metadata: meta.Encode()})
	if err != nil {
		return fmt.Errorf("revoke role: %w", err)
	}
	if err := s.f.WaitFor(ctx, int64(res.NextExpected)); err != nil {
		return fmt.Errorf("revoke role: %w", err)
	}
	return nil
}

// Moderator reports whether user id may hide items and dismiss reports:
// moderators may, and admins.
func (s *Service) Moderator(ctx context.Context, id int64) (bool, error) {
	u, err := s.Get(ctx, id)
	if err != nil {
		return false, err
	}
	return u.Can(domain.RoleModerator), nil
}
