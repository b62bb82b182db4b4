package accounts_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

func TestUsersPagesAndSearches(t *testing.T) {
	s := start(t, openStore(t, t.TempDir()))
	ctx := t.Context()
	for _, name := range []string{"Anna", "bob", "hannah", "joanna", "zed"} {
		if _, err := s.Register(ctx, name, "password-123", eventstore.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(p accounts.UserPage) []string {
		var out []string
		for _, u := range p.Users {
			out = append(out, u.Username)
		}
		return out
	}
	var all []string
	q := accounts.UserQuery{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		p := s.Users(ctx, q)
		all = append(all, names(p)...)
		if p.Next == 0 {
			break
		}
		q.After = p.Next
	}
	if want := []string{"Anna", "bob", "hannah", "joanna", "zed"}; !slices.Equal(all, want) {
		t.Fatalf("paged through %v, want %v", all, want)
	}
	p := s.Users(ctx, accounts.UserQuery{Text: "ANN", Limit: 2})
	if got := names(p); !slices.Equal(got, []string{"Anna", "hannah"}) || p.Next == 0 {
		t.Fatalf("search ANN, first page: %v next %d", got, p.Next)
	}
	p = s.Users(ctx, accounts.UserQuery{Text: "ann", After: p.Next, Limit: 2})
	if got := names(p); !slices.Equal(got, []string{"joanna"}) || p.Next != 0 {
		t.Fatalf("search ann, second page: %v next %d", got, p.Next)
	}
	if p := s.Users(ctx, accounts.UserQuery{Text: "nobody", Limit: 10}); len(p.Users) != 0 || p.Next != 0 {
		t.Fatalf("search nobody: %+v", p)
	}
}

// TestLastAdminKeepsTheRole: revoking admin from the only admin is
// refused; with two, racing to revoke each other, exactly one wins.
func TestLastAdminKeepsTheRole(t *testing.T) {
	s := start(t, openStore(t, t.TempDir()))
	ctx := t.Context()
	var admins []accounts.User
	for i := range 2 {
		u, err := s.Register(ctx, fmt.Sprintf("admin%d", i), "password-123", eventstore.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Grant(ctx, u.ID, domain.RoleAdmin, 0, "", eventstore.Metadata{}); err != nil {
			t.Fatal(err)
		}
		admins = append(admins, u)
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, u := range admins {
		wg.Go(func() { errs[i] = s.Revoke(ctx, u.ID, domain.RoleAdmin, admins[1-i].ID, "", eventstore.Metadata{}) })
	}
	wg.Wait()
	ok, last := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, accounts.ErrLastAdmin):
			last++
		default:
			t.Fatal(err)
		}
	}
	if ok != 1 || last != 1 {
		t.Fatalf("revoking each other: %v", errs)
	}
	left := 0
	for _, u := range s.List(ctx) {
		if u.Roles[domain.RoleAdmin] {
			left++
			if err := s.Revoke(ctx, u.ID, domain.RoleAdmin, u.ID, "", eventstore.Metadata{}); !errors.Is(err, accounts.ErrLastAdmin) {
				t.Fatalf("the last admin revoking themself: %v", err)
			}
		}
	}
	if left != 1 {
		t.Fatalf("%d admins left", left)
	}
}

func TestAdminEndsSignIns(t *testing.T) {
	st := openStore(t, t.TempDir())
	s := start(t, st)
	ctx := t.Context()
	u, _ := s.Register(ctx, "sam", "password-123", eventstore.Metadata{})
	other, _ := s.Register(ctx, "tess", "password-123", eventstore.Metadata{})
	a, err := s.StartSignIn(ctx, u.ID, domain.SignInPage, time.Hour, eventstore.Metadata{ClientAddr: "192.0.2.7:51234"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.StartSignIn(ctx, u.ID, domain.SignInAPI, time.Hour, eventstore.Metadata{})
	c, _ := s.StartSignIn(ctx, u.ID, domain.SignInAPI, time.Hour, eventstore.Metadata{})
	list, err := s.SignIns(ctx, u.ID)
	if err != nil || len(list) != 3 {
		t.Fatalf("sign-ins %+v, %v", list, err)
	}
	i := slices.IndexFunc(list, func(si accounts.SignInInfo) bool { return si.ID == a.ID })
	if i < 0 || list[i].Addr != "192.0.2.7" || list[i].Via != domain.SignInPage || list[i].StartedAt.IsZero() {
		t.Fatalf("sign-in a listed as %+v", list)
	}
	if err := s.EndSignIns(ctx, other.ID, a.ID, 9, eventstore.Metadata{}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("ending a sign-in of someone else: %v", err)
	}
	var ended [][]string
	var mu sync.Mutex
	s.OnSignInsEnded(func(ids []string) { mu.Lock(); ended = append(ended, ids); mu.Unlock() })
	if err := s.EndSignIns(ctx, u.ID, a.ID, 9, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSignIns(ctx, u.ID, a.ID, 9, eventstore.Metadata{}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("ending it again: %v", err)
	}
	if live, _ := s.SignInLive(ctx, u.ID, a.ID); live {
		t.Fatal("an ended sign-in is live")
	}
	if err := s.EndSignIns(ctx, u.ID, "", 9, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.SignIns(ctx, u.ID); len(list) != 0 {
		t.Fatalf("left %+v", list)
	}
	mu.Lock()
	got := slices.Concat(ended...)
	mu.Unlock()
	slices.Sort(got)
	want := []string{a.ID, b.ID, c.ID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("ended %v, want %v", got, want)
	}
	evs, _ := st.ReadStream(ctx, domain.SignInsStream, eventstore.Backwards, eventstore.End, 1)
	if len(evs) != 1 || !bytesContain(evs[0].Data, `"reason":"admin"`, `"by":9`) {
		t.Fatalf("last sign-ins event %s", evs[0].Data)
	}
}

func bytesContain(b []byte, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(string(b), sub) {
			return false
		}
	}
	return true
}
