package personal_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/personal"
)

// mapStore is a Store in memory: the Keyring's logic is under test here,
// the stores' durability and deletion in their own packages.
type mapStore struct {
	mu     sync.Mutex
	keys   map[int64][]byte
	erased map[int64]bool
}

func newMapStore() *mapStore {
	return &mapStore{keys: map[int64][]byte{}, erased: map[int64]bool{}}
}

func (s *mapStore) Get(_ context.Context, id int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.erased[id] {
		return nil, personal.ErrErased
	}
	if k, ok := s.keys[id]; ok {
		return k, nil
	}
	return nil, personal.ErrNoKey
}

func (s *mapStore) Create(_ context.Context, id int64, wrapped []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.erased[id] {
		return nil, personal.ErrErased
	}
	if k, ok := s.keys[id]; ok {
		return k, nil
	}
	s.keys[id] = wrapped
	return wrapped, nil
}

func (s *mapStore) Erase(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, id)
	s.erased[id] = true
	return nil
}

func keyring(t *testing.T, s personal.Store, secret string) *personal.Keyring {
	t.Helper()
	dk, err := personal.DataKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	r, err := personal.NewKeyring(s, dk)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func seal(t *testing.T, r *personal.Keyring, user int64, k personal.Kind, v string) string {
	t.Helper()
	s, err := r.Seal(t.Context(), user, k, v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func open(t *testing.T, r *personal.Keyring, user int64, k personal.Kind, v string) string {
	t.Helper()
	p, err := r.Open(t.Context(), user, k, v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSealOpens(t *testing.T) {
	r := keyring(t, newMapStore(), "a data key for tests")
	const text = "the drummer comes in at 1:02"
	s := seal(t, r, 17, personal.Body, text)
	if !personal.IsSealed(s) || strings.Contains(s, "drummer") {
		t.Fatalf("sealed value %q", s)
	}
	if again := seal(t, r, 17, personal.Body, text); again == s {
		t.Fatal("two seals of one text are equal: the nonce is not fresh")
	}
	if got := open(t, r, 17, personal.Body, s); got != text {
		t.Fatalf("opened %q, want %q", got, text)
	}
	if got := seal(t, r, 17, personal.Body, ""); got != "" {
		t.Fatalf("an empty value sealed as %q", got)
	}
	if got := open(t, r, 17, personal.Body, "written before sealing"); got != "written before sealing" {
		t.Fatalf("plaintext of a user with a key opened as %q", got)
	}
}

// A sealed value opens only as what it was sealed as: its user and kind
// are its associated data, and any altered byte spoils it. What does not
// open reads as erased, never as an error nor as garbage.
func TestSealedValueIsBound(t *testing.T) {
	r := keyring(t, newMapStore(), "a data key for tests")
	s := seal(t, r, 17, personal.Body, "hello")
	seal(t, r, 18, personal.Body, "key of 18")

	if got := open(t, r, 17, personal.Username, s); got != personal.ErasedUser(17) {
		t.Fatalf("opened as another kind: %q", got)
	}
	if got := open(t, r, 18, personal.Body, s); got != personal.ErasedText {
		t.Fatalf("opened as another user's: %q", got)
	}
	for i := len(personal.Prefix); i < len(s); i++ {
		b := []byte(s)
		b[i] ^= 0x01
		got, err := r.Open(t.Context(), 17, personal.Body, string(b))
		if err != nil {
			t.Fatalf("byte %d altered: %v", i, err)
		}
		if got == "hello" {
			t.Fatalf("byte %d altered and the value still opens", i)
		}
	}
}

func TestEraseForgets(t *testing.T) {
	store := newMapStore()
	r := keyring(t, store, "a data key for tests")
	name := seal(t, r, 17, personal.Username, "alice")
	body := seal(t, r, 17, personal.Body, "hello")
	other := seal(t, r, 18, personal.Body, "bob's")

	if err := r.Erase(t.Context(), 17); err != nil {
		t.Fatal(err)
	}
	if got := open(t, r, 17, personal.Username, name); got != "erased user #17" {
		t.Fatalf("erased name opens as %q", got)
	}
	if got := open(t, r, 17, personal.Body, body); got != personal.ErasedText {
		t.Fatalf("erased body opens as %q", got)
	}
	if got := open(t, r, 18, personal.Body, other); got != "bob's" {
		t.Fatalf("another user's body opens as %q", got)
	}
	if _, err := r.Seal(t.Context(), 17, personal.Body, "again"); !errors.Is(err, personal.ErrErased) {
		t.Fatalf("sealing for an erased user: %v", err)
	}
	if erased, err := r.IsErased(t.Context(), 17); err != nil || !erased {
		t.Fatalf("IsErased = %v, %v", erased, err)
	}
	m, err := r.SealMetadata(t.Context(), 17, eventstore.Metadata{ClientAddr: "192.0.2.7"})
	if err != nil || m.ClientAddr != "" {
		t.Fatalf("an erased user's address kept as %q (%v)", m.ClientAddr, err)
	}

	// Another process on the same store, which never cached the key,
	// sees the erasure too.
	fresh := keyring(t, store, "a data key for tests")
	if got := open(t, fresh, 17, personal.Body, body); got != personal.ErasedText {
		t.Fatalf("another keyring opens the erased body as %q", got)
	}
}

// Processes sharing a store agree on a user's key, and a store read with
// the wrong data key is a failure to report, not a value to show.
func TestKeyringsShareAStore(t *testing.T) {
	store := newMapStore()
	a := keyring(t, store, "a data key for tests")
	b := keyring(t, store, "a data key for tests")
	s := seal(t, a, 17, personal.Body, "hello")
	if got := open(t, b, 17, personal.Body, s); got != "hello" {
		t.Fatalf("the other keyring opens %q", got)
	}
	wrong := keyring(t, store, "another data key")
	if _, err := wrong.Open(t.Context(), 17, personal.Body, s); err == nil || !strings.Contains(err.Error(), "VIDEOLOGUE_DATA_KEY") {
		t.Fatalf("opening with the wrong data key: %v", err)
	}
}

// A user who never had a key wrote plaintext: it reads as it is. A sealed
// value whose user has no key lost it: nothing of it can be shown.
func TestKeylessUsers(t *testing.T) {
	store := newMapStore()
	r := keyring(t, store, "a data key for tests")
	if got := open(t, r, 5, personal.Body, "old text"); got != "old text" {
		t.Fatalf("plaintext opens as %q", got)
	}
	sealed := seal(t, keyring(t, newMapStore(), "a data key for tests"), 6, personal.Body, "x")
	if got := open(t, r, 6, personal.Body, sealed); got != personal.ErasedText {
		t.Fatalf("a sealed value without its key opens as %q", got)
	}
	var none *personal.Keyring
	if got, err := none.Seal(t.Context(), 5, personal.Body, "plain"); err != nil || got != "plain" {
		t.Fatalf("a nil keyring sealed %q (%v)", got, err)
	}
}
