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
	// signInCookie keeps the name it was first served under: a browser
	// holding the cookie under another name would be signed out.
	signInCookie  = "vl_session"
	pageSignInTTL = 14 * 24 * time.Hour
)

// signIn is a signed-in browser: the sign-in its cookie names. The
// cookie is signed with a key derived from the server secret, so it cannot
// be forged, and the sign-in it names is checked live on every request
// (site.liveSignIn): signing out, changing the password or signing out
// everywhere ends it on every node. ID is the sign-in's random id; it also
// binds the CSRF tokens of that sign-in.
type signIn struct {
	UserID  int64
	ID      string
	Expires time.Time
}

// signInCookies signs and reads sign-in cookies.
type signInCookies struct {
	key    []byte
	secure bool // always mark cookies Secure (production behind TLS)
	now    func() time.Time
}

func newSignInCookies(secret []byte, secure bool) *signInCookies {
	// The purpose keeps its first wording too: another key would refuse
	// every cookie already handed out.
	return &signInCookies{key: deriveKey(secret, "videologue/web/session.v2"), secure: secure, now: time.Now}
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

func (s *signInCookies) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// encode gives the cookie value: "v2.<uid>.<sign-in id>.<expires>.<mac>".
// Cookies of the earlier format (v1, another key) name no sign-in that
// was ever recorded and are refused.
func (s *signInCookies) encode(si signIn) string {
	payload := "v2." + strconv.FormatInt(si.UserID, 10) + "." + si.ID + "." + strconv.FormatInt(si.Expires.Unix(), 10)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload))
}

// decode checks a cookie value's signature and expiry.
func (s *signInCookies) decode(v string) (signIn, bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return signIn{}, false
	}
	payload, sig := v[:i], v[i+1:]
	// Compare the canonical encoding: decoding would accept other
	// spellings of the same signature (spare bits, skipped newlines).
	want := base64.RawURLEncoding.EncodeToString(s.mac(payload))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return signIn{}, false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 4 || parts[0] != "v2" {
		return signIn{}, false
	}
	uid, err1 := strconv.ParseInt(parts[1], 10, 64)
	exp, err2 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || uid <= 0 || parts[2] == "" {
		return signIn{}, false
	}
	si := signIn{UserID: uid, ID: parts[2], Expires: time.Unix(exp, 0)}
	if !s.now().Before(si.Expires) {
		return signIn{}, false
	}
	return si, true
}

func (s *signInCookies) secureFor(r *http.Request) bool { return s.secure || r.TLS != nil }

// start gives this browser the cookie of a sign-in that has started (see
// accounts.StartSignIn); it lasts until the sign-in expires.
func (s *signInCookies) start(w http.ResponseWriter, r *http.Request, userID int64, id string, expires time.Time) signIn {
	si := signIn{UserID: userID, ID: id, Expires: expires}
	http.SetCookie(w, &http.Cookie{
		Name: signInCookie, Value: s.encode(si), Path: "/",
		Expires: si.Expires, MaxAge: max(1, int(si.Expires.Sub(s.now())/time.Second)),
		HttpOnly: true, Secure: s.secureFor(r), SameSite: http.SameSiteLaxMode,
	})
	return si
}

// end removes the cookie from this browser; ending the sign-in it names
// is the accounts service's.
func (s *signInCookies) end(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: signInCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secureFor(r), SameSite: http.SameSiteLaxMode,
	})
}

// read returns the request's valid sign-in cookie, if any.
func (s *signInCookies) read(r *http.Request) (signIn, bool) {
	c, err := r.Cookie(signInCookie)
	if err != nil {
		return signIn{}, false
	}
	return s.decode(c.Value)
}

type signInKey struct{}

// load puts the sign-in of the request's cookie (or the zero sign-in) in
// its context.
func (s *signInCookies) load(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if si, ok := s.read(r); ok {
			r = r.WithContext(context.WithValue(r.Context(), signInKey{}, si))
		}
		next.ServeHTTP(w, r)
	})
}

// signInFrom returns the sign-in load found; UserID 0 means signed out.
func signInFrom(ctx context.Context) signIn {
	si, _ := ctx.Value(signInKey{}).(signIn)
	return si
}
