package channels

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/videologue/videologue/internal/limit"
)

// limits are the server's rate limits, per user and per client address
// (IPv6 by its /64, see limit.AddrKey). Their buckets belong to the
// server, not to connections, and are kept until they are full again:
// reconnecting never buys a fresh burst.
type limits struct {
	userConnects, userJoins, userPushes *limit.Keyed[int64]
	addrConnects, addrJoins, addrPushes *limit.Keyed[string]

	// The sockets open per address, at most maxSockets each (none if
	// maxSockets < 0).
	maxSockets int
	mu         sync.Mutex
	sockets    map[string]int
}

// maxLimitKeys bounds each limiter's table: past it, new keys are refused
// until buckets fill up and are forgotten (see limit.New).
const maxLimitKeys = 100_000

func newLimits(cfg Config) *limits {
	return &limits{
		userConnects: limit.New[int64](cfg.ConnectRate, cfg.ConnectBurst, maxLimitKeys),
		userJoins:    limit.New[int64](cfg.JoinRate, cfg.JoinBurst, maxLimitKeys),
		userPushes:   limit.New[int64](cfg.PushRate, cfg.PushBurst, maxLimitKeys),
		addrConnects: limit.New[string](cfg.AddrConnectRate, cfg.AddrConnectBurst, maxLimitKeys),
		addrJoins:    limit.New[string](cfg.AddrJoinRate, cfg.AddrJoinBurst, maxLimitKeys),
		addrPushes:   limit.New[string](cfg.AddrPushRate, cfg.AddrPushBurst, maxLimitKeys),
		maxSockets:   cfg.MaxSocketsPerAddr,
		sockets:      make(map[string]int),
	}
}

// allow spends a token of the user's bucket, then one of the address's:
// what the user's own limit refuses costs the others at that address
// nothing.
func allow(user *limit.Keyed[int64], addr *limit.Keyed[string], userID int64, addrKey string, now time.Time) (bool, time.Duration) {
	if ok, wait := user.Reserve(userID, now); !ok {
		return false, wait
	}
	return addr.Reserve(addrKey, now)
}

// openSocket counts a socket from addrKey, unless the address has
// maxSockets open already. Each true is matched by one closeSocket.
func (l *limits) openSocket(addrKey string) bool {
	if l.maxSockets < 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sockets[addrKey] >= l.maxSockets {
		return false
	}
	l.sockets[addrKey]++
	return true
}

func (l *limits) closeSocket(addrKey string) {
	if l.maxSockets < 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.sockets[addrKey] - 1; n > 0 {
		l.sockets[addrKey] = n
	} else {
		delete(l.sockets, addrKey)
	}
}

// tooMany refuses a request with 429 and, when known, when to retry.
func tooMany(w http.ResponseWriter, wait time.Duration, format string, args ...any) {
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	}
	http.Error(w, fmt.Sprintf(format, args...), http.StatusTooManyRequests)
}

// newFrameBudget is a connection's budget of inbound frames of every kind.
// It is the connection's own: the limits across connections are those of
// the user and the address.
func newFrameBudget(cfg Config) *rate.Limiter {
	if cfg.FrameRate < 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(cfg.FrameRate), cfg.FrameBurst)
}

// errJoinRateLimited refuses a join over the user's or the address's
// join limit; phoenix.js retries the join after its rejoin back-off.
var errJoinRateLimited = &clientError{"too many joins, slow down"}
