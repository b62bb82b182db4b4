package accounts_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

var cheap = accounts.Config{Hash: auth.Params{Memory: 64, Time: 1, Threads: 1}}

func openStore(t testing.TB, dir string) *pebble.Store {
	t.Helper()
	st, err := pebble.Open(dir, pebble.Config{CacheBytes: 8 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func start(t testing.TB, st accounts.Store) *accounts.Service {
	t.Helper()
	s := accounts.New(st, cheap, nil)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestRegisterAuthenticateGet(t *testing.T) {
	st := openStore(t, t.TempDir())
	s := start(t, st)
	ctx := t.Context()
	u, err := s.Register(ctx, "  Alice ", "password-123", eventstore.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != 1 || u.Username != "Alice" {
		t.Fatalf("registered %+v", u)
	}
	if _, err := s.Register(ctx, "alice", "password-456", eventstore.Metadata{}); !errors.Is(err, domain.ErrUsernameTaken) {
		t.Fatalf("same name in other case: %v, want ErrUsernameTaken", err)
	}
	var ve *domain.ValidationError
	if _, err := s.Register(ctx, "x", "password-123", eventstore.Metadata{}); !errors.As(err, &ve) || ve.Field != "username" {
		t.Fatalf("short name: %v", err)
	}
	if _, err := s.Register(ctx, "bob", "short", eventstore.Metadata{}); !errors.As(err, &ve) || ve.Field != "password" {
		t.Fatalf("weak password: %v", err)
	}
	if got, err := s.Authenticate(ctx, "ALICE", "password-123"); err != nil || got.ID != 1 {
		t.Fatalf("sign in: %+v, %v", got, err)
	}
	for _, c := range [][2]string{{"alice", "password-124"}, {"nobody", "password-123"}, {"", ""}} {
		if _, err := s.Authenticate(ctx, c[0], c[1]); !errors.Is(err, domain.ErrBadCredentials) {
			t.Errorf("Authenticate(%q, %q) = %v, want ErrBadCredentials", c[0], c[1], err)
		}
	}
	if _, err := s.Get(ctx, 99); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Get(99) = %v", err)
	}
	// The stored hash is argon2id; the password is nowhere in the log.
	evs, _ := st.ReadStream(ctx, domain.UsersStream, eventstore.Forwards, 0, 10)
	if len(evs) != 1 || strings.Contains(string(evs[0].Data), "password-123") || !strings.Contains(string(evs[0].Data), "$argon2id$") {
		t.Fatalf("users stream: %d events, %s", len(evs), evs[0].Data)
	}
}

// Two services on one store stand for two server processes: a name can
// still be taken only once, and ids stay dense.
func TestUniqueAcrossProcesses(t *testing.T) {
	st := openStore(t, t.TempDir())
	a, b := start(t, st), start(t, st)
	ctx := t.Context()
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, lost := 0, 0
	ids := map[int64]string{}
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			// Half race for one name; the rest register their own.
			name := "contested"
			if i >= 8 {
				name = fmt.Sprintf("own%d", i)
			}
			u, err := s.Register(ctx, name, "password-123", eventstore.Metadata{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				if name == "contested" {
					won++
				}
				ids[u.ID] = u.Username
			case errors.Is(err, domain.ErrUsernameTaken) && name == "contested":
				lost++
			default:
				t.Errorf("register %s: %v", name, err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || lost != 7 {
		t.Fatalf("contested name: %d won, %d lost; want 1 and 7", won, lost)
	}
	for id := int64(1); id <= 9; id++ {
		if ids[id] == "" {
			t.Fatalf("ids not dense: %v", ids)
		}
	}
	// Each process sees the other's users.
	for id, name := range ids {
		for _, s := range []*accounts.Service{a, b} {
			if u, err := s.Get(ctx, id); err != nil || u.Username != name {
				t.Fatalf("Get(%d) = %+v, %v", id, u, err)
			}
		}
	}
}

func TestRolesAndRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	s := start(t, st)
	ctx := t.Context()
	u, _ := s.Register(ctx, "ana", "password-123", eventstore.Metadata{})
	if err := s.Grant(ctx, u.ID, domain.RoleAnalyst, 0, "cli", eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Grant(ctx, u.ID, "emperor", 0, "", eventstore.Metadata{}); err == nil {
		t.Fatal("unknown role granted")
	}
	if err := s.Grant(ctx, 42, domain.RoleAdmin, 0, "", eventstore.Metadata{}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("grant to unknown user: %v", err)
	}
	got, _ := s.Get(ctx, u.ID)
	if !got.Can(domain.RoleAnalyst) || got.Can(domain.RoleAuditor) || !got.Can(domain.RoleViewer) {
		t.Fatalf("roles %v", got.Roles)
	}
	// A fresh read model over the same log knows the same.
	s2 := start(t, st)
	if got, _ := s2.ByUsername(ctx, "ANA"); got.ID != u.ID || !got.Can(domain.RoleAnalyst) {
		t.Fatalf("rebuilt: %+v", got)
	}
	if n := len(s2.List(ctx)); n != 1 {
		t.Fatalf("List = %d users", n)
	}
}

func TestRevoke(t *testing.T) {
	st := openStore(t, t.TempDir())
	s := start(t, st)
	ctx := t.Context()
	u, _ := s.Register(ctx, "rita", "password-123", eventstore.Metadata{})
	for _, r := range []domain.Role{domain.RoleAnalyst, domain.RoleAuditor} {
		if err := s.Grant(ctx, u.ID, r, 0, "", eventstore.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Revoke(ctx, u.ID, domain.RoleAnalyst, 7, "left the team", eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, u.ID, domain.RoleAnalyst, 7, "", eventstore.Metadata{}); !errors.Is(err, accounts.ErrRoleNotHeld) {
		t.Fatalf("revoke a role not held: %v", err)
	}
	if err := s.Revoke(ctx, 42, domain.RoleAdmin, 0, "", eventstore.Metadata{}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("revoke from unknown user: %v", err)
	}
	check := func(s *accounts.Service) {
		t.Helper()
		got, _ := s.Get(ctx, u.ID)
		if got.Can(domain.RoleAnalyst) || !got.Can(domain.RoleAuditor) {
			t.Fatalf("roles %v", got.Roles)
		}
	}
	check(s)
	check(start(t, st)) // folded again from the log
	evs, err := st.ReadStream(ctx, domain.UsersStream, eventstore.Backwards, eventstore.End, 1)
	if err != nil || len(evs) != 1 || evs[0].Type != domain.TypeRoleRevoked {
		t.Fatalf("last users event: %+v, %v", evs, err)
	}
	var e domain.RoleRevoked
	if err := json.Unmarshal(evs[0].Data, &e); err != nil || e.RevokedBy != 7 || e.Role != domain.RoleAnalyst || e.Note != "left the team" {
		t.Fatalf("recorded %+v, %v", e, err)
	}
}

// Registrations at once on one process take turns for the users stream
// instead of racing for it: none runs out of attempts, however many come
// together, even with a single attempt each.
func TestConcurrentRegistrationsOnOneProcess(t *testing.T) {
	st := openStore(t, t.TempDir())
	cfg := cheap
	cfg.MaxAttempts = 1
	s := accounts.New(st, cfg, nil)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = s.Register(t.Context(), fmt.Sprintf("user%d", i), "password-123", eventstore.Metadata{})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("user%d: %v", i, err)
		}
	}
}
