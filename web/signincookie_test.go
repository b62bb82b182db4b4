package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSignInCookieRoundTrip(t *testing.T) {
	s := newSignInCookies([]byte("a secret of enough length"), false)
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/signin", nil)
	started := s.start(w, r, 42, "sign-in-42", time.Now().Add(time.Hour).Truncate(time.Second))
	c := w.Result().Cookies()[0]
	if c.Name != signInCookie || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure {
		t.Fatalf("cookie attributes: %+v", c)
	}
	r2 := httptest.NewRequest("GET", "/", nil)
	r2.AddCookie(c)
	got, ok := s.read(r2)
	if !ok || got.UserID != 42 || got.ID != started.ID {
		t.Fatalf("read = %+v, %v; want user 42, id %s", got, ok, started.ID)
	}
}

func TestSignInCookieSecure(t *testing.T) {
	for _, tt := range []struct {
		name   string
		secure bool
		tls    bool
	}{{"prod mode", true, false}, {"served over TLS", false, true}} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSignInCookies([]byte("a secret of enough length"), tt.secure)
			r := httptest.NewRequest("POST", "/signin", nil)
			if !tt.tls {
				r.TLS = nil
			} else {
				r = httptest.NewRequest("POST", "https://example.com/signin", nil)
			}
			w := httptest.NewRecorder()
			s.start(w, r, 1, "sign-in-1", time.Now().Add(time.Hour))
			if c := w.Result().Cookies()[0]; !c.Secure {
				t.Fatalf("cookie not Secure: %+v", c)
			}
		})
	}
}

func TestSignInCookieRejects(t *testing.T) {
	now := time.Now()
	s := newSignInCookies([]byte("a secret of enough length"), false)
	s.now = func() time.Time { return now }
	good := s.encode(signIn{UserID: 7, ID: "abc", Expires: now.Add(time.Hour)})
	other := newSignInCookies([]byte("another secret, also long"), false)
	tests := []struct{ name, value string }{
		{"empty", ""},
		{"garbage", "hello"},
		{"other secret", other.encode(signIn{UserID: 7, ID: "abc", Expires: now.Add(time.Hour)})},
		{"user swapped", strings.Replace(good, "v2.7.", "v2.8.", 1)},
		{"earlier format", signV1Cookie([]byte("a secret of enough length"), 7, "abc", now.Add(time.Hour))},
		{"signature cut", good[:strings.LastIndexByte(good, '.')]},
		{"expired", s.encode(signIn{UserID: 7, ID: "abc", Expires: now.Add(-time.Second)})},
		{"zero user", s.encode(signIn{UserID: 0, ID: "abc", Expires: now.Add(time.Hour)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := s.decode(tt.value); ok {
				t.Fatalf("decode(%q) = %+v, accepted", tt.value, got)
			}
		})
	}
	if _, ok := s.decode(good); !ok {
		t.Fatal("the good cookie was refused")
	}
}

// signV1Cookie is a cookie as the earlier format signed it: its id named
// no recorded sign-in, so it must not be accepted at all.
func signV1Cookie(secret []byte, userID int64, id string, expires time.Time) string {
	payload := "v1." + strconv.FormatInt(userID, 10) + "." + id + "." + strconv.FormatInt(expires.Unix(), 10)
	m := hmac.New(sha256.New, deriveKey(secret, "videologue/web/session.v1"))
	m.Write([]byte(payload))
	return payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
