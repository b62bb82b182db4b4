// Package limit holds rate limits keyed by who is asking (a user, a
// client address) that outlive any one connection: a key's bucket is kept
// until it would be full again, so disconnecting and reconnecting never
// buys a fresh burst. Each bucket is a golang.org/x/time/rate.Limiter.
package limit

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Keyed is a token bucket per key. The zero value is not usable; use New.
type Keyed[K comparable] struct {
	rate  rate.Limit
	burst int
	// keep is how long an untouched bucket takes to fill up again; after
	// that it is the same as a new one and can be forgotten.
	keep time.Duration
	max  int

	mu    sync.Mutex
	m     map[K]*entry
	sweep time.Time // when m was last swept of full buckets
}

type entry struct {
	lim  *rate.Limiter
	last time.Time
}

// New returns a limiter of perSecond tokens a second and burst at most,
// per key. It tracks at most maxKeys keys; past that, a new key is
// refused (Allow returns false) until old ones fill up and are swept, so
// that spraying keys cannot reset anyone's bucket. perSecond <= 0 or
// burst <= 0 means no limit.
func New[K comparable](perSecond float64, burst, maxKeys int) *Keyed[K] {
	keep := time.Duration(0)
	if perSecond > 0 {
		keep = time.Duration(float64(burst)/perSecond*float64(time.Second)) + time.Second
	}
	if maxKeys <= 0 {
		maxKeys = 100_000
	}
	return &Keyed[K]{rate: rate.Limit(perSecond), burst: burst, keep: keep, max: maxKeys, m: make(map[K]*entry)}
}

// Unlimited reports whether l lets everything through.
func (l *Keyed[K]) Unlimited() bool { return l == nil || l.rate <= 0 || l.burst <= 0 }

// Allow spends one token of key's bucket at now, if it has one.
func (l *Keyed[K]) Allow(key K, now time.Time) bool {
	ok, _ := l.Reserve(key, now)
	return ok
}

// Reserve is Allow that also says, when it refuses, how long until a
// token is back (for a Retry-After).
func (l *Keyed[K]) Reserve(key K, now time.Time) (bool, time.Duration) {
	if l.Unlimited() {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	if e == nil {
		if len(l.m) >= l.max {
			l.sweepLocked(now)
		}
		if len(l.m) >= l.max {
			return false, time.Second
		}
		e = &entry{lim: rate.NewLimiter(l.rate, l.burst)}
		l.m[key] = e
	}
	e.last = now
	r := e.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweepLocked forgets buckets untouched for long enough to be full again,
// at most once a second.
func (l *Keyed[K]) sweepLocked(now time.Time) {
	if now.Sub(l.sweep) < time.Second {
		return
	}
	l.sweep = now
	for k, e := range l.m {
		if now.Sub(e.last) > l.keep {
			delete(l.m, k)
		}
	}
}

// Len is how many keys are tracked.
func (l *Keyed[K]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// AddrKey is the key of a client address (host or host:port) for limits
// per address: an IPv4 address as it is, an IPv6 address by its /64,
// since one client is commonly handed a whole /64. An address that does
// not parse is its own key.
func AddrKey(remoteAddr string) string {
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
