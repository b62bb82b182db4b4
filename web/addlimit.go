package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/videologue/videologue/internal/limit"
)

// videoLimits bound how fast videos are added: per user, and per client
// address (looser, since an address may be shared), each a bucket that
// outlives any sign-in, so that signing in again buys nothing.
type videoLimits struct{ limit.UserAndAddr }

func newVideoLimits(perSecond float64, burst int) *videoLimits {
	return &videoLimits{limit.NewUserAndAddr(perSecond, burst, 3*perSecond, 3*burst, 0)}
}

// allow spends one token of the user's bucket and one of the address's;
// when either is empty it says how long until it has one.
func (l *videoLimits) allow(r *http.Request, userID int64, now time.Time) (bool, time.Duration) {
	return l.Reserve(userID, limit.AddrKey(r.RemoteAddr), now)
}

// tooFast sets Retry-After for a refusal that lasts wait, and returns the
// refusal's text.
func tooFast(w http.ResponseWriter, wait time.Duration) string {
	secs := limit.RetryAfter(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return "too many videos added: try again in " + plural(secs, "second")
}
