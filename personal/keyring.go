package personal

import (
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/videologue/videologue/eventstore"
)

// Store keeps each user's key, wrapped, and forgets it for good on
// Erase. The Keyring is its only caller; a Store is safe for concurrent
// use.
type Store interface {
	// Get returns the wrapped key of userID: ErrNoKey if it has none,
	// ErrErased if it was erased.
	Get(ctx context.Context, userID int64) ([]byte, error)
	// Create keeps wrapped as userID's key unless it has one, and
	// returns the one it keeps: an existing key wins, so that processes
	// sharing a store agree. ErrErased if the user was erased.
	Create(ctx context.Context, userID int64, wrapped []byte) ([]byte, error)
	// Erase deletes userID's key and remembers that it was erased. When
	// it returns, the key's bytes are gone from the store's files (as far
	// as the store can reach: see its documentation). Erasing twice is
	// not an error.
	Erase(ctx context.Context, userID int64) error
}

var (
	// ErrNoKey: the user has no key yet.
	ErrNoKey = errors.New("personal: no key")
	// ErrErased: the user was erased; their key is gone.
	ErrErased = errors.New("personal: user erased")
)

// maxCached bounds the keys a Keyring holds open; past it the cache
// starts again empty, and keys are read from the store as they are used.
const maxCached = 1 << 16

// Keyring seals and opens users' personal data with their keys, and
// erases users. It caches opened keys; it is safe for concurrent use.
//
// A nil *Keyring seals nothing and opens values as they are: services
// built without one (tests of other concerns, tools) write plaintext, as
// Videologue did before sealing existed.
type Keyring struct {
	store Store
	wrap  cipher.AEAD

	mu    sync.RWMutex
	keys  map[int64]cipher.AEAD // nil value: erased
	none  map[int64]bool        // users found without a key: their values are plaintext
	stats Stats
}

// Stats counts what a Keyring did, for tests and metrics.
type Stats struct{ Loaded, Created, Erased uint64 }

// DataKey derives the key that wraps the users' keys from the configured
// secret (VIDEOLOGUE_DATA_KEY).
func DataKey(secret string) ([]byte, error) {
	if secret == "" {
		return nil, errors.New("personal: empty data key")
	}
	return hkdf.Key(sha256.New, []byte(secret), nil, "videologue user keys v1", keySize)
}

// NewKeyring returns a Keyring over store whose keys are wrapped with
// dataKey (see DataKey).
func NewKeyring(store Store, dataKey []byte) (*Keyring, error) {
	w, err := newAEAD(dataKey)
	if err != nil {
		return nil, fmt.Errorf("personal: data key: %w", err)
	}
	return &Keyring{store: store, wrap: w, keys: make(map[int64]cipher.AEAD), none: make(map[int64]bool)}, nil
}

// Stats returns the counts so far.
func (r *Keyring) Stats() Stats {
	if r == nil {
		return Stats{}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.stats
}

func wrapAD(userID int64) []byte { return strconv.AppendInt([]byte("user key\x00"), userID, 10) }

func (r *Keyring) unwrap(userID int64, wrapped []byte) (cipher.AEAD, error) {
	if len(wrapped) < nonceSize+r.wrap.Overhead() {
		return nil, fmt.Errorf("personal: key of user %d: too short", userID)
	}
	key, err := r.wrap.Open(nil, wrapped[:nonceSize], wrapped[nonceSize:], wrapAD(userID))
	if err != nil {
		return nil, fmt.Errorf("personal: key of user %d does not open with the data key (is VIDEOLOGUE_DATA_KEY the one it was made with?)", userID)
	}
	return newAEAD(key)
}

func (r *Keyring) cached(userID int64) (cipher.AEAD, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.keys[userID]
	return a, ok
}

func (r *Keyring) remember(userID int64, a cipher.AEAD) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.keys) >= maxCached {
		clear(r.keys)
	}
	r.keys[userID] = a
	delete(r.none, userID)
}

// keyless reports whether userID was found without a key.
func (r *Keyring) keyless(userID int64) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.none[userID]
}

func (r *Keyring) rememberKeyless(userID int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.none) >= maxCached {
		clear(r.none)
	}
	r.none[userID] = true
}

// key returns userID's key, creating it if create is set. It returns
// ErrErased for an erased user and ErrNoKey for one without a key.
func (r *Keyring) key(ctx context.Context, userID int64, create bool) (cipher.AEAD, error) {
	if a, ok := r.cached(userID); ok {
		if a == nil {
			return nil, ErrErased
		}
		return a, nil
	}
	wrapped, err := r.store.Get(ctx, userID)
	if errors.Is(err, ErrNoKey) && create {
		key := make([]byte, keySize)
		_, _ = rand.Read(key)
		w := make([]byte, nonceSize, nonceSize+keySize+r.wrap.Overhead())
		_, _ = rand.Read(w)
		w = r.wrap.Seal(w, w, key, wrapAD(userID))
		wrapped, err = r.store.Create(ctx, userID, w)
		if err == nil {
			r.count(func(s *Stats) { s.Created++ })
		}
	}
	if errors.Is(err, ErrErased) {
		r.remember(userID, nil)
		return nil, ErrErased
	}
	if err != nil {
		return nil, err
	}
	a, err := r.unwrap(userID, wrapped)
	if err != nil {
		return nil, err
	}
	r.count(func(s *Stats) { s.Loaded++ })
	r.remember(userID, a)
	return a, nil
}

func (r *Keyring) count(f func(*Stats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.stats)
}

// Seal returns v sealed with userID's key, creating the key on first
// use. An empty v stays empty. Sealing for an erased user fails with
// ErrErased.
func (r *Keyring) Seal(ctx context.Context, userID int64, k Kind, v string) (string, error) {
	if v == "" || r == nil {
		return v, nil
	}
	a, err := r.key(ctx, userID, true)
	if err != nil {
		return "", fmt.Errorf("sealing %s of user %d: %w", k, userID, err)
	}
	return seal(a, userID, k, v), nil
}

// Open returns what v, a value of kind k that userID wrote, reads as: the
// text of a sealed value, an unsealed value as it is, and Erased(userID,
// k) for every value of an erased user. A sealed value that does not open
// with the user's key reads as erased too: it was altered, and there is
// nothing of it to show. An error is a failure of the store.
func (r *Keyring) Open(ctx context.Context, userID int64, k Kind, v string) (string, error) {
	if v == "" || r == nil {
		return v, nil
	}
	// A user without a key wrote before sealing existed: their plaintext
	// opens without a look at the store each time. A sealed value of
	// theirs means a key was made since, maybe by another process.
	if !IsSealed(v) && r.keyless(userID) {
		return v, nil
	}
	a, err := r.key(ctx, userID, false)
	switch {
	case errors.Is(err, ErrErased):
		return Erased(userID, k), nil
	case errors.Is(err, ErrNoKey):
		if IsSealed(v) { // its key is lost: as good as erased
			return Erased(userID, k), nil
		}
		r.rememberKeyless(userID)
		return v, nil
	case err != nil:
		return "", fmt.Errorf("opening %s of user %d: %w", k, userID, err)
	}
	if !IsSealed(v) {
		return v, nil
	}
	p, err := open(a, userID, k, v)
	if err != nil {
		return Erased(userID, k), nil
	}
	return p, nil
}

// IsErased reports whether userID was erased.
func (r *Keyring) IsErased(ctx context.Context, userID int64) (bool, error) {
	if r == nil {
		return false, nil
	}
	_, err := r.key(ctx, userID, false)
	switch {
	case errors.Is(err, ErrErased):
		return true, nil
	case err == nil, errors.Is(err, ErrNoKey):
		return false, nil
	}
	return false, err
}

// Erase deletes userID's key for good: everything sealed with it reads
// as erased from then on, here at once, and in other processes sharing
// the store once they drop their cached key (Forget). Erasing an erased
// user does nothing.
func (r *Keyring) Erase(ctx context.Context, userID int64) error {
	if r == nil {
		return errors.New("personal: erasing needs a key store")
	}
	if a, ok := r.cached(userID); ok && a == nil {
		return nil
	}
	// Every start applies the log's erasures again: one already made
	// costs a read, not a compaction.
	if _, err := r.store.Get(ctx, userID); errors.Is(err, ErrErased) {
		r.remember(userID, nil)
		return nil
	}
	if err := r.store.Erase(ctx, userID); err != nil {
		return fmt.Errorf("erasing the key of user %d: %w", userID, err)
	}
	r.remember(userID, nil)
	r.count(func(s *Stats) { s.Erased++ })
	return nil
}

// Forget drops the cached key of userID, erased by another process: it is
// read from the store again when next used.
func (r *Keyring) Forget(userID int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.keys, userID)
	delete(r.none, userID)
}

// SealMetadata returns m with its client address sealed with the key of
// userID, the user who caused the event. An address already sealed, or
// of no user (userID 0: the operator's CLI), stays as it is; an erased
// user's is left out (their sockets' last events follow the erasure).
func (r *Keyring) SealMetadata(ctx context.Context, userID int64, m eventstore.Metadata) (eventstore.Metadata, error) {
	if userID <= 0 || IsSealed(m.ClientAddr) {
		return m, nil
	}
	var err error
	m.ClientAddr, err = r.Seal(ctx, userID, Addr, m.ClientAddr)
	if errors.Is(err, ErrErased) {
		m.ClientAddr, err = "", nil
	}
	return m, err
}
