package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/videologue/videologue/internal/limit"
)

// videoLimits bound how fast videos are added: per user, and per client
// address (looser, since an address may be shared), each a bucket that
// outlives any session, so that signing in again buys nothing.
type videoLimits struct {
	user *limit.Keyed[int64]
	addr *limit.Keyed[string]
}

func newVideoLimits(perSecond float64, burst int) *videoLimits {
	return &videoLimits{
		user: limit.New[int64](perSecond, burst, 0),
		addr: limit.New[string](3*perSecond, 3*burst, 0),
	}
}

// allow spends one token of the user's bucket and one of the address's;
// when either is empty it says how long until both have one.
func (l *videoLimits) allow(r *http.Request, userID int64, now time.Time) (bool, time.Duration) {
	okUser, waitUser := l.user.Reserve(userID, now)
	if !okUser {
		return false, waitUser
	}
	okAddr, waitAddr := l.addr.Reserve(limit.AddrKey(r.RemoteAddr), now)
	return okAddr, waitAddr
}

// tooFast sets Retry-After for a refusal that lasts wait, and returns the
// refusal's text.
func tooFast(w http.ResponseWriter, wait time.Duration) string {
	secs := max(1, int((wait+time.Second-1)/time.Second))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return "too many videos added: try again in " + plural(secs, "second")
}
