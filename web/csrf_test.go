package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// csrfServer is the guard in front of a handler that reports the token.
func csrfServer(t testing.TB) (*signInCookies, *csrfGuard, http.Handler) {
	t.Helper()
	secret := []byte("a secret of enough length")
	s := newSignInCookies(secret, false)
	g := newCSRFGuard(secret, s, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "refused", http.StatusForbidden)
	})
	h := s.load(g.protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(csrfToken(r.Context())))
	})))
	return s, g, h
}

func TestCSRF(t *testing.T) {
	s, g, h := csrfServer(t)

	// A first visit gets a nonce cookie and a token for it.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/register", nil))
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != csrfCookie || !cookies[0].HttpOnly {
		t.Fatalf("first visit cookies: %+v", cookies)
	}
	nonce := cookies[0]
	token := w.Body.String()

	rec := httptest.NewRecorder()
	si := s.start(rec, httptest.NewRequest("POST", "/", nil), 5, randomID(), time.Now().Add(time.Hour))
	siCookie := rec.Result().Cookies()[0]

	post := func(token string, cookies ...*http.Cookie) int {
		form := url.Values{}
		if token != "" {
			form.Set(csrfField, token)
		}
		r := httptest.NewRequest("POST", "/videos", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	tests := []struct {
		name    string
		token   string
		cookies []*http.Cookie
		want    int
	}{
		{"valid anonymous", token, []*http.Cookie{nonce}, 200},
		{"no token", "", []*http.Cookie{nonce}, 403},
		{"no cookie", token, nil, 403},
		{"forged token", token[:len(token)-2] + "xx", []*http.Cookie{nonce}, 403},
		{"anonymous token when signed in", token, []*http.Cookie{nonce, siCookie}, 403},
		{"signed-in token", g.token(nonce.Value, si.ID), []*http.Cookie{nonce, siCookie}, 200},
		{"signed-in token without the sign-in cookie", g.token(nonce.Value, si.ID), []*http.Cookie{nonce}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := post(tt.token, tt.cookies...); got != tt.want {
				t.Fatalf("POST status %d, want %d", got, tt.want)
			}
		})
	}
}
