package channels

import (
	"sync"
	"time"
)

// bucket is a token bucket: rate tokens per second, at most burst.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	refs   int // guarded by limiters.mu
}

// take spends one token if there is one.
func (b *bucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// limiters holds one bucket per connected user, shared by the user's
// connections and dropped with the last of them.
type limiters struct {
	rate  float64
	burst int
	mu    sync.Mutex
	m     map[int64]*bucket
}

func newLimiters(rate float64, burst int) *limiters {
	return &limiters{rate: rate, burst: burst, m: make(map[int64]*bucket)}
}

func (l *limiters) acquire(userID int64) *bucket {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[userID]
	if b == nil {
		b = &bucket{rate: l.rate, burst: float64(l.burst), tokens: float64(l.burst)}
		l.m[userID] = b
	}
	b.refs++
	return b
}

func (l *limiters) release(userID int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.m[userID]; b != nil {
		if b.refs--; b.refs <= 0 {
			delete(l.m, userID)
		}
	}
}
