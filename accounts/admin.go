package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/personal"
)

// ErrLastAdmin: the admin role was to be revoked from the only user who
// holds it, which would leave nobody able to grant it from the site.
var ErrLastAdmin = errors.New("the last admin keeps the admin role: grant it to someone else first")

// UserQuery asks for one page of users in id order.
type UserQuery struct {
	// Text keeps the users whose name holds it, in any letter case; empty
	// keeps all. Callers bound its length.
	Text string
	// After is the id of the last user of the previous page (0: from the
	// first).
	After int64
	// Limit is the most users on the page (at least 1).
	Limit int
}

// UserPage is a page of users; Next is the After of the following page, 0
// when this is the last.
type UserPage struct {
	Users []User
	Next  int64
}

// Users returns one page of users in id order, those whose name holds
// q.Text. It starts where the previous page ended (a binary search), so a
// page without a filter costs its length; a filter that matches few users
// reads the rest of the list to fill one.
func (s *Service) Users(ctx context.Context, q UserQuery) UserPage {
	text := strings.ToLower(q.Text)
	limit := max(q.Limit, 1)
	s.mu.RLock()
	defer s.mu.RUnlock()
	var page UserPage
	i := sort.Search(len(s.order), func(i int) bool { return s.order[i] > q.After })
	for ; i < len(s.order); i++ {
		u := s.byID[s.order[i]]
		if text != "" && !strings.Contains(strings.ToLower(u.Username), text) {
			continue
		}
		if len(page.Users) == limit {
			page.Next = page.Users[limit-1].ID
			break
		}
		page.Users = append(page.Users, u.User)
	}
	return page
}

// revokeAdmin takes the admin role back from userID unless nobody else
// holds it. It appends at the revision whose users it counted, so two
// admins revoking each other at once cannot both succeed: the second
// counts again.
func (s *Service) revokeAdmin(ctx context.Context, userID, by int64, note string, meta eventstore.Metadata) error {
	data, _ := json.Marshal(domain.RoleRevoked{UserID: userID, Role: domain.RoleAdmin, RevokedBy: by, Note: note})
	ev := eventstore.EventData{Type: domain.TypeRoleRevoked, Data: data, Metadata: meta.Encode()}
	for range s.cfg.MaxAttempts {
		rev, held, others := s.admins(userID)
		if !held {
			return fmt.Errorf("revoke role: %s: %w", domain.RoleAdmin, ErrRoleNotHeld)
		}
		if others == 0 {
			return ErrLastAdmin
		}
		res, err := s.store.Append(ctx, domain.UsersStream, eventstore.Exact(uint64(rev)), ev)
		var wrong *eventstore.WrongExpectedRevisionError
		switch {
		case errors.As(err, &wrong):
			if err := s.f.WaitFor(ctx, wrong.Actual); err != nil {
				return fmt.Errorf("revoke role: %w", err)
			}
			continue
		case err != nil:
			return fmt.Errorf("revoke role: %w", err)
		}
		if err := s.f.WaitFor(ctx, int64(res.NextExpected)); err != nil {
			return fmt.Errorf("revoke role: %w", err)
		}
		return nil
	}
	return fmt.Errorf("revoke role: %d attempts lost to concurrent changes: %w", s.cfg.MaxAttempts, domain.ErrConflict)
}

// hostOf is addr without its port: pages record the client's whole
// address, the API its host, and the port says nothing to an admin.
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// SignInInfo is a live sign-in as an admin sees it.
type SignInInfo struct {
	ID        string
	Via       string // domain.SignInPage or domain.SignInAPI
	Addr      string // the client address it started from
	StartedAt time.Time
	ExpiresAt time.Time
}

// SignIns returns userID's live sign-ins, newest first, including those
// started on other nodes up to now.
func (s *Service) SignIns(ctx context.Context, userID int64) ([]SignInInfo, error) {
	if _, err := s.Get(ctx, userID); err != nil {
		return nil, err
	}
	if err := s.signIns.f.CatchUp(ctx); err != nil {
		return nil, fmt.Errorf("list sign-ins: %w", err)
	}
	m := &s.signIns
	now := m.now()
	m.mu.RLock()
	var out []SignInInfo
	for id := range m.byUser[userID] {
		if st := m.byID[id]; st != nil && !st.ended && now.Before(st.expires) {
			out = append(out, SignInInfo{ID: id, Via: st.via, Addr: st.addr, StartedAt: st.started, ExpiresAt: st.expires})
		}
	}
	m.mu.RUnlock()
	for i := range out {
		addr, err := s.cfg.Keys.Open(ctx, userID, personal.Addr, out[i].Addr)
		if err != nil {
			return nil, fmt.Errorf("list sign-ins: %w", err)
		}
		out[i].Addr = hostOf(addr)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.After(out[j].StartedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// EndSignIns ends sign-in id of userID, or with id empty every sign-in of
// theirs, on behalf of admin by; the sockets of those sign-ins close on
// every node (OnSignInsEnded). An id that is not a live sign-in of the
// user is domain.ErrNotFound.
func (s *Service) EndSignIns(ctx context.Context, userID int64, id string, by int64, meta eventstore.Metadata) error {
	if _, err := s.Get(ctx, userID); err != nil {
		return err
	}
	if id != "" {
		live, err := s.SignInLive(ctx, userID, id)
		if err != nil {
			return err
		}
		if !live {
			return domain.ErrNotFound
		}
	}
	return s.endSignIns(ctx, domain.SignedOut{UserID: userID, SignIn: id, Reason: domain.SignOutByAdmin, By: by}, meta)
}
