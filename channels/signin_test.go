package channels_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/auth"
	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/eventstore"
)

// Ending a sign-in closes its open sockets and refuses its tokens at the
// next connect, while the user's other sign-ins keep theirs. The sign-out
// is appended by another accounts service over the same log, as another
// node would: this node learns it only by folding the log.
func TestSignOutClosesSocketsOfThatSignIn(t *testing.T) {
	e := newEnv(t, channels.Config{})
	uid, _, tokA := e.user("out")
	tokB := e.token(uid)
	_, signInA, _ := e.tokens.Verify(tokA)
	a, b := e.dial(tokA), e.dial(tokB)
	hb := func(c *client) {
		t.Helper()
		n := c.send("", c.nextRef(), "phoenix", "heartbeat", map[string]any{})
		c.await(n, 10*time.Second, "heartbeat reply", func(f frame) bool { return f.Event == "phx_reply" })
	}
	hb(a)
	hb(b)

	other := accounts.New(e.store, accounts.Config{Hash: auth.Params{Memory: 64, Time: 1, Threads: 1}}, nil)
	if err := other.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.SignOut(t.Context(), uid, signInA, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	wantSignedOut(t, a.closeErr(10*time.Second))
	hb(b) // the other sign-in's socket is still served
	if _, resp, err := e.tryDial(tokA, nil); err == nil || status(resp) != http.StatusForbidden {
		t.Fatalf("dial with a token of the ended sign-in: err %v, status %d; want 403", err, status(resp))
	}

	if err := other.SignOutEverywhere(t.Context(), uid, eventstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	wantSignedOut(t, b.closeErr(10*time.Second))
	if _, resp, err := e.tryDial(tokB, nil); err == nil || status(resp) != http.StatusForbidden {
		t.Fatalf("dial after signing out everywhere: err %v, status %d; want 403", err, status(resp))
	}
	eventually(t, "no sockets left", 10*time.Second, func() bool { return e.srv.Connections() == 0 })
}

func wantSignedOut(t testing.TB, err error) {
	t.Helper()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "signed out" {
		t.Fatalf("socket ended with %v, want close 1008 \"signed out\"", err)
	}
}
