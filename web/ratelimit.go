package web

import (
	"net/http"
	"time"

	"github.com/videologue/videologue/internal/limit"
)

// addrLimiter limits the requests that check passwords per client
// address (an IPv6 client by its /64, since one is commonly handed a
// whole /64). A bucket outlives the connections that spent it.
type addrLimiter struct {
	keyed *limit.Keyed[string]
}

// maxTracked bounds the memory an address-spraying client can take; past
// it, new addresses are refused until old buckets are full again.
const maxTracked = 100_000

func newAddrLimiter(rate float64, burst int) *addrLimiter {
	return &addrLimiter{keyed: limit.New[string](rate, burst, maxTracked)}
}

func (l *addrLimiter) allow(r *http.Request, now time.Time) bool {
	return l.keyed.Allow(limit.AddrKey(r.RemoteAddr), now)
}
