package limit

import (
	"sync"
	"time"
)

// UserAndAddr is a limit kept both per user and per client address
// (limit.AddrKey). The user's bucket is spent first, so that what one
// user's own limit refuses costs the other users of that address nothing.
type UserAndAddr struct {
	User *Keyed[int64]
	Addr *Keyed[string]
}

// NewUserAndAddr returns a limit of perSecond and burst per user and
// addrPerSecond and addrBurst per address, each tracking at most maxKeys
// keys (see New).
func NewUserAndAddr(perSecond float64, burst int, addrPerSecond float64, addrBurst, maxKeys int) UserAndAddr {
	return UserAndAddr{User: New[int64](perSecond, burst, maxKeys), Addr: New[string](addrPerSecond, addrBurst, maxKeys)}
}

// Reserve spends a token of userID's bucket, then one of addrKey's; when
// either is empty it says how long until that one has a token again.
func (l UserAndAddr) Reserve(userID int64, addrKey string, now time.Time) (bool, time.Duration) {
	if ok, wait := l.User.Reserve(userID, now); !ok {
		return false, wait
	}
	return l.Addr.Reserve(addrKey, now)
}

// RetryAfter is wait in whole seconds, rounded up and at least 1: the
// value of a Retry-After header.
func RetryAfter(wait time.Duration) int {
	return max(1, int((wait+time.Second-1)/time.Second))
}

// Slots counts what each key holds open at once (connections, sockets)
// against a cap. The zero value is not usable; use NewSlots.
type Slots struct {
	max  int
	mu   sync.Mutex
	open map[string]int // no zero entries
}

// NewSlots returns slots of at most perKey open per key; perKey <= 0
// means no cap.
func NewSlots(perKey int) *Slots {
	return &Slots{max: perKey, open: make(map[string]int)}
}

// Take holds one of key's slots, unless key holds perKey already. Each
// true is matched by one Release.
func (s *Slots) Take(key string) bool {
	if s.max <= 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[key] >= s.max {
		return false
	}
	s.open[key]++
	return true
}

// Release gives back a slot that Take gave.
func (s *Slots) Release(key string) {
	if s.max <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.open[key] - 1; n > 0 {
		s.open[key] = n
	} else {
		delete(s.open, key)
	}
}
