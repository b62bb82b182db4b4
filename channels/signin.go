package channels

import (
	"context"
	"net/http"

	"github.com/gorilla/websocket"
)

// closeSignedOut is the close reason of a socket whose sign-in ended. The
// client's reconnect then needs a new token, which only a live sign-in
// gets.
const closeSignedOut = "signed out"

// authenticate checks a connect's token: its signature and age, its user,
// and that the sign-in it was minted for is still live. It returns the
// HTTP status and message of a refusal.
func (s *Server) authenticate(ctx context.Context, token string) (identity, int, string) {
	userID, signIn, err := s.deps.Tokens.Verify(token)
	if err != nil {
		return identity{}, http.StatusForbidden, "invalid or expired token"
	}
	username, err := s.deps.Users.Username(ctx, userID)
	if err != nil {
		s.logger.Warn("socket token for unknown user", "user_id", userID, "err", err)
		return identity{}, http.StatusForbidden, "invalid or expired token"
	}
	if code, msg := s.checkSignIn(ctx, userID, signIn); code != 0 {
		return identity{}, code, msg
	}
	return identity{id: userID, username: username, signIn: signIn}, 0, ""
}

// checkSignIn refuses a sign-in that has ended or expired (403), or that
// cannot be checked because the log cannot be read (503).
func (s *Server) checkSignIn(ctx context.Context, userID int64, signIn string) (int, string) {
	live, err := s.deps.Users.SignInLive(ctx, userID, signIn)
	if err != nil {
		s.logger.Error("socket sign-in check failed", "user_id", userID, "err", err)
		return http.StatusServiceUnavailable, "try again in a moment"
	}
	if !live {
		return http.StatusForbidden, "signed out: sign in again"
	}
	return 0, ""
}

// recheckSignIn closes c if its sign-in ended while it was being
// upgraded: CloseSignIns, which the end triggers, may have run before c
// was tracked and so not seen it. Called once c is tracked, it closes the
// gap: either CloseSignIns sees c, or this sees the end.
func (s *Server) recheckSignIn(ctx context.Context, c *conn) {
	if code, _ := s.checkSignIn(ctx, c.user.id, c.user.signIn); code != 0 {
		c.shut(websocket.ClosePolicyViolation, closeSignedOut, false)
	}
}

// CloseSignIns closes every open socket whose token was minted for one of
// the sign-ins ids, with 1008 (policy violation) "signed out". It does not
// block on the sockets: each closes on its own goroutines. Call it when
// the sign-ins end, on every node (accounts.Service.OnSignInsEnded).
func (s *Server) CloseSignIns(ids ...string) {
	if len(ids) == 0 {
		return
	}
	ended := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		ended[id] = struct{}{}
	}
	s.mu.Lock()
	var closing []*conn
	for c := range s.conns {
		if _, ok := ended[c.user.signIn]; ok {
			closing = append(closing, c)
		}
	}
	s.mu.Unlock()
	for _, c := range closing {
		c.log().Info("closing socket of ended sign-in")
		c.shut(websocket.ClosePolicyViolation, closeSignedOut, false)
	}
}
