package channels

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/videologue/videologue/internal/limit"
)

// limits are the server's rate limits, per user and per client address
// (IPv6 by its /64, see limit.AddrKey). Their buckets belong to the
// server, not to connections, and are kept until they are full again:
// reconnecting never buys a fresh burst.
type limits struct {
	connects, joins, pushes limit.UserAndAddr
	// reports limits each user's reports (report_annotation).
	reports *limit.Keyed[int64]
	// sockets counts the sockets open per address, at most
	// Config.MaxSocketsPerAddr (none if it is negative).
	sockets *limit.Slots
}

// maxLimitKeys bounds each limiter's table: past it, new keys are refused
// until buckets fill up and are forgotten (see limit.New).
const maxLimitKeys = 100_000

func newLimits(cfg Config) *limits {
	return &limits{
		connects: limit.NewUserAndAddr(cfg.ConnectRate, cfg.ConnectBurst, cfg.AddrConnectRate, cfg.AddrConnectBurst, maxLimitKeys),
		joins:    limit.NewUserAndAddr(cfg.JoinRate, cfg.JoinBurst, cfg.AddrJoinRate, cfg.AddrJoinBurst, maxLimitKeys),
		pushes:   limit.NewUserAndAddr(cfg.PushRate, cfg.PushBurst, cfg.AddrPushRate, cfg.AddrPushBurst, maxLimitKeys),
		sockets:  limit.NewSlots(max(cfg.MaxSocketsPerAddr, 0)),
		reports:  limit.New[int64](cfg.ReportRate, cfg.ReportBurst, maxLimitKeys),
	}
}

// tooMany refuses a request with 429 and, when known, when to retry.
func tooMany(w http.ResponseWriter, wait time.Duration, format string, args ...any) {
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(limit.RetryAfter(wait)))
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
