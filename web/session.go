package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	sessionCookie = "vl_session"
	sessionTTL    = 14 * 24 * time.Hour
)

// session is a signed-in browser: the sign-in its cookie names. The
// cookie is signed with a key derived from the server secret, so it cannot
// be forged, and the sign-in it names is checked live on every request
// (site.liveSignIn): signing out, changing the password or signing out
// everywhere ends it on every node. ID is the sign-in's random id; it also
// binds the CSRF tokens of that sign-in.
type session struct {
	UserID  int64
	ID      string
	Expires time.Time
}

// sessions signs and reads session cookies.
type sessions struct {
	key    []byte
	secure bool // always mark cookies Secure (production behind TLS)
	now    func() time.Time
}

func newSessions(secret []byte, secure bool) *sessions {
	return &sessions{key: deriveKey(secret, "videologue/web/session.v2"), secure: secure, now: time.Now}
}

// deriveKey gives each use of the server secret its own key, so a value
// signed for one purpose (a socket token, a CSRF token) is never valid as
// another.
func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func randomID() string {
	var b [18]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *sessions) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// encode gives the cookie value: "v2.<uid>.<sign-in id>.<expires>.<mac>".
// Cookies of the earlier format (v1, another key) name no sign-in that
// was ever recorded and are refused.
func (s *sessions) encode(sess session) string {
	payload := "v2." + strconv.FormatInt(sess.UserID, 10) + "." + sess.ID + "." + strconv.FormatInt(sess.Expires.Unix(), 10)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload))
}

// decode checks a cookie value's signature and expiry.
func (s *sessions) decode(v string) (session, bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return session{}, false
	}
	payload, sig := v[:i], v[i+1:]
	// Compare the canonical encoding: decoding would accept other
	// spellings of the same signature (spare bits, skipped newlines).
	want := base64.RawURLEncoding.EncodeToString(s.mac(payload))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return session{}, false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 4 || parts[0] != "v2" {
		return session{}, false
	}
	uid, err1 := strconv.ParseInt(parts[1], 10, 64)
	exp, err2 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || uid <= 0 || parts[2] == "" {
		return session{}, false
	}
	sess := session{UserID: uid, ID: parts[2], Expires: time.Unix(exp, 0)}
	if !s.now().Before(sess.Expires) {
		return session{}, false
	}
	return sess, true
}

func (s *sessions) secureFor(r *http.Request) bool { return s.secure || r.TLS != nil }

// start gives this browser the cookie of a sign-in that has started (see
// accounts.StartSignIn); it lasts until the sign-in expires.
func (s *sessions) start(w http.ResponseWriter, r *http.Request, userID int64, signIn string, expires time.Time) session {
	sess := session{UserID: userID, ID: signIn, Expires: expires}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.encode(sess), Path: "/",
		Expires: sess.Expires, MaxAge: max(1, int(sess.Expires.Sub(s.now())/time.Second)),
		HttpOnly: true, Secure: s.secureFor(r), SameSite: http.SameSiteLaxMode,
	})
	return sess
}

// end removes the cookie from this browser; ending the sign-in it names
// is the accounts service's.
func (s *sessions) end(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secureFor(r), SameSite: http.SameSiteLaxMode,
	})
}

// read returns the request's valid session, if any.
func (s *sessions) read(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	return s.decode(c.Value)
}

type sessionKey struct{}

// load puts the request's session (or the zero session) in its context.
func (s *sessions) load(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sess, ok := s.read(r); ok {
			r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess))
		}
		next.ServeHTTP(w, r)
	})
}

// sessionFrom returns the session load found; UserID 0 means signed out.
func sessionFrom(ctx context.Context) session {
	sess, _ := ctx.Value(sessionKey{}).(session)
	return sess
}
