package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

const (
	csrfCookie = "vl_csrf"
	csrfField  = "csrf_token"
	csrfHeader = "X-CSRF-Token"
	// maxFormBytes bounds a page form; the largest is an annotation-free
	// video form, far below this.
	maxFormBytes = 64 << 10
)

// csrfGuard protects every form with a signed double-submit token. The
// browser holds a random nonce in an HttpOnly cookie; each form carries
// HMAC(key, nonce, sign-in id). Another site can make the browser send the
// cookie (SameSite=Lax aside) but can neither read it nor compute the token,
// and a token minted for one sign-in is useless in another.
type csrfGuard struct {
	key     []byte
	cookies *signInCookies
	// reject renders the refusal; the guard itself never writes a body.
	reject func(w http.ResponseWriter, r *http.Request)
}

func newCSRFGuard(secret []byte, s *signInCookies, reject func(http.ResponseWriter, *http.Request)) *csrfGuard {
	return &csrfGuard{key: deriveKey(secret, "videologue/web/csrf.v1"), cookies: s, reject: reject}
}

type csrfKey struct{}

// token is the form token for nonce within sign-in id.
func (g *csrfGuard) token(nonce, signInID string) string {
	m := hmac.New(sha256.New, g.key)
	m.Write([]byte(nonce))
	m.Write([]byte{0})
	m.Write([]byte(signInID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// protect makes sure the browser has a nonce, puts the request's form token
// in its context, and refuses any unsafe request without a valid token.
// It runs after signInCookies.load.
func (g *csrfGuard) protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce := ""
		if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 20 && len(c.Value) <= 64 {
			nonce = c.Value
		}
		safe := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
		if nonce == "" {
			nonce = randomID()
			http.SetCookie(w, &http.Cookie{
				Name: csrfCookie, Value: nonce, Path: "/",
				HttpOnly: true, Secure: g.cookies.secureFor(r), SameSite: http.SameSiteLaxMode,
			})
			if !safe { // a new nonce cannot match any form already out there
				g.reject(w, r)
				return
			}
		}
		want := g.token(nonce, signInFrom(r.Context()).ID)
		if !safe {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			got := r.Header.Get(csrfHeader)
			if got == "" {
				got = r.PostFormValue(csrfField)
			}
			if !hmac.Equal([]byte(got), []byte(want)) {
				g.reject(w, r)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), csrfKey{}, want)))
	})
}

// csrfToken is the token forms on this page must carry.
func csrfToken(ctx context.Context) string {
	t, _ := ctx.Value(csrfKey{}).(string)
	return t
}
