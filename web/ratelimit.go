package web

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// addrLimiter is a token bucket per client address, for the endpoints
// that check passwords.
type addrLimiter struct {
	rate  float64
	burst float64
	mu    sync.Mutex
	m     map[string]*addrBucket
}

type addrBucket struct {
	tokens float64
	last   time.Time
}

// maxTracked bounds the memory an address-spraying client can take; past
// it the table starts over (every address gets a fresh burst).
const maxTracked = 100_000

func newAddrLimiter(rate float64, burst int) *addrLimiter {
	return &addrLimiter{rate: rate, burst: float64(burst), m: make(map[string]*addrBucket)}
}

func (l *addrLimiter) allow(r *http.Request, now time.Time) bool {
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[addr]
	if b == nil {
		if len(l.m) >= maxTracked {
			clear(l.m)
		}
		b = &addrBucket{tokens: l.burst, last: now}
		l.m[addr] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
