package accounts_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

func live(t testing.TB, s *accounts.Service, userID int64, id string) bool {
	t.Helper()
	ok, err := s.SignInLive(t.Context(), userID, id)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// Two services over one log stand for two nodes: a sign-in started on one
// is live on the other, a sign-out on either ends it on both, the other's
// hook is told, and all of it holds after a restart.
func TestSignInsFoldAcrossNodesAndRestarts(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	a, b := start(t, st), start(t, st)
	var mu sync.Mutex
	var toldB []string
	b.OnSignInsEnded(func(ids []string) {
		mu.Lock()
		toldB = append(toldB, ids...)
		mu.Unlock()
	})
	ctx := t.Context()
	u, err := a.Register(ctx, "alice", "password-123", eventstore.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	_, s1, err := a.SignInWithPassword(ctx, "alice", "password-123", domain.SignInPage, time.Hour, eventstore.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := a.StartSignIn(ctx, u.ID, domain.SignInAPI, time.Hour, eventstore.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if s1.ID == s2.ID || len(s1.ID) < 20 {
		t.Fatalf("sign-in ids %q and %q: want distinct random ids", s1.ID, s2.ID)
	}
	if !live(t, b, u.ID, s1.ID) || !live(t, b, u.ID, s2.ID) {
		t.Fatal("sign-ins started on node a are not live on node b")
	}
	if live(t, b, u.ID+1, s1.ID) {
		t.Fatal("a sign-in is live for another user id")
	}
	if live(t, b, u.ID, "never-started") {
		t.Fatal("an unknown sign-in is live")
	}

	if err := b.SignOut(ctx, u.ID, s1.ID, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	// a learns of b's sign-out through the log only.
	waitFor(t, "node a to fold the sign-out", func() bool { return !live(t, a, u.ID, s1.ID) })
	if !live(t, a, u.ID, s2.ID) {
		t.Fatal("signing out of one sign-in ended another")
	}
	if err := b.SignOut(ctx, u.ID, s1.ID, eventstore.Metadata{}); err != nil { // twice: no error, no second notice
		t.Fatal(err)
	}
	mu.Lock()
	if !slices.Equal(toldB, []string{s1.ID}) {
		t.Fatalf("node b's hook was told %q, want [%s]", toldB, s1.ID)
	}
	mu.Unlock()

	a.Close()
	b.Close()
	st.Close()
	st = openStore(t, dir)
	c := start(t, st)
	if live(t, c, u.ID, s1.ID) || !live(t, c, u.ID, s2.ID) {
		t.Fatal("after a restart the sign-ins are not as they were")
	}
}

// A password change ends the user's other sign-ins, keeps the one that
// asked, and leaves other users' alone; signing out everywhere ends all.
func TestChangePasswordAndSignOutEverywhere(t *testing.T) {
	s := start(t, openStore(t, t.TempDir()))
	ctx := t.Context()
	alice, _ := s.Register(ctx, "alice", "password-123", eventstore.Metadata{})
	bob, _ := s.Register(ctx, "bob", "password-456", eventstore.Metadata{})
	signIn := func(name, pw string) accounts.SignIn {
		t.Helper()
		_, si, err := s.SignInWithPassword(ctx, name, pw, domain.SignInPage, time.Hour, eventstore.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		return si
	}
	keep, other, bobs := signIn("alice", "password-123"), signIn("alice", "password-123"), signIn("bob", "password-456")

	var ve *domain.ValidationError
	if err := s.ChangePassword(ctx, alice.ID, "password-999", "new-password-1", keep.ID, eventstore.Metadata{}); !errors.As(err, &ve) || ve.Field != "current_password" {
		t.Fatalf("wrong current password: %v", err)
	}
	if err := s.ChangePassword(ctx, alice.ID, "password-123", "weak", keep.ID, eventstore.Metadata{}); !errors.As(err, &ve) || ve.Field != "new_password" {
		t.Fatalf("weak new password: %v", err)
	}
	if !live(t, s, alice.ID, other.ID) {
		t.Fatal("a refused change ended a sign-in")
	}
	if err := s.ChangePassword(ctx, alice.ID, "password-123", "new-password-1", keep.ID, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if !live(t, s, alice.ID, keep.ID) || live(t, s, alice.ID, other.ID) || !live(t, s, bob.ID, bobs.ID) {
		t.Fatal("after the change: want the asking sign-in live, alice's other ended, bob's live")
	}
	if _, err := s.Authenticate(ctx, "alice", "password-123"); !errors.Is(err, domain.ErrBadCredentials) {
		t.Fatalf("old password: %v", err)
	}
	after := signIn("alice", "new-password-1")

	if err := s.SignOutEverywhere(ctx, alice.ID, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if live(t, s, alice.ID, keep.ID) || live(t, s, alice.ID, after.ID) || !live(t, s, bob.ID, bobs.ID) {
		t.Fatal("after signing out everywhere: want all of alice's ended, bob's live")
	}
	// Signing in again afterwards works: the end covers what came before.
	if again := signIn("alice", "new-password-1"); !live(t, s, alice.ID, again.ID) {
		t.Fatal("a sign-in after signing out everywhere is not live")
	}
}

// A sign-in ends by itself when it expires, and the model forgets it.
func TestSignInExpires(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg := cheap
	cfg.Now = clock
	s := accounts.New(openStore(t, t.TempDir()), cfg, nil)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	u, _ := s.Register(t.Context(), "erin", "password-123", eventstore.Metadata{})
	si, err := s.StartSignIn(t.Context(), u.ID, domain.SignInPage, time.Hour, eventstore.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if !live(t, s, u.ID, si.ID) {
		t.Fatal("a new sign-in is not live")
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if live(t, s, u.ID, si.ID) {
		t.Fatal("an expired sign-in is live")
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkSignInLive is the check every page, API call and socket
// connect makes.
func BenchmarkSignInLive(b *testing.B) {
	s := start(b, openStore(b, b.TempDir()))
	u, _ := s.Register(b.Context(), "bench", "password-123", eventstore.Metadata{})
	si, err := s.StartSignIn(b.Context(), u.ID, domain.SignInPage, time.Hour, eventstore.Metadata{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := s.SignInLive(b.Context(), u.ID, si.ID); !ok {
			b.Fatal("not live")
		}
	}
}

// BenchmarkStartSignIn is what a sign-in adds to the password check: one
// durable append and this node's fold of it.
func BenchmarkStartSignIn(b *testing.B) {
	s := start(b, openStore(b, b.TempDir()))
	u, _ := s.Register(b.Context(), "bench", "password-123", eventstore.Metadata{})
	for b.Loop() {
		if _, err := s.StartSignIn(b.Context(), u.ID, domain.SignInPage, time.Hour, eventstore.Metadata{}); err != nil {
			b.Fatal(err)
		}
	}
}
