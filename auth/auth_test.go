package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func newTokens(t *testing.T, now *time.Time) *Tokens {
	t.Helper()
	tk, err := NewTokens(TokenConfig{Secret: []byte("0123456789abcdef-test"), MaxAge: time.Hour, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestTokenRoundTrip(t *testing.T) {
	now := time.Now()
	tk := newTokens(t, &now)
	tok := tk.Sign(42, "sign-in-a")
	id, signIn, err := tk.Verify(tok)
	if err != nil || id != 42 || signIn != "sign-in-a" {
		t.Fatalf("Verify = %d, %q, %v; want 42, sign-in-a, nil", id, signIn, err)
	}
}

// signV1 is a token as the earlier format signed it: no sign-in inside.
func signV1(secret string, userID int64, now time.Time) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("videologue token v1\x00user"))
	key := m.Sum(nil)
	body := "v1." + b64.EncodeToString(fmt.Appendf(nil, `{"sub":"%d","iat":%d}`, userID, now.UnixMilli()))
	m = hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return body + "." + b64.EncodeToString(m.Sum(nil))
}

func TestTokenRejects(t *testing.T) {
	now := time.Now()
	tk := newTokens(t, &now)
	tok := tk.Sign(7, "s1")
	other, _ := NewTokens(TokenConfig{Secret: []byte("another secret of enough length")})
	salted, _ := NewTokens(TokenConfig{Secret: []byte("0123456789abcdef-test"), Salt: "other"})
	flip := []byte(tok)
	flip[len(flip)-3] ^= 1
	body, _, _ := cutLast(tok, ".")
	tests := []struct {
		name, token string
		want        error
	}{
		{"empty", "", ErrInvalidToken},
		{"garbage", "not a token", ErrInvalidToken},
		{"flipped signature", string(flip), ErrInvalidToken},
		{"no signature", body, ErrInvalidToken},
		{"other secret", other.Sign(7, "s1"), ErrInvalidToken},
		{"other salt", salted.Sign(7, "s1"), ErrInvalidToken},
		{"payload swapped", "v2." + b64.EncodeToString([]byte(`{"sub":"1","sid":"s1","iat":0}`)) + tok[strings.LastIndex(tok, "."):], ErrInvalidToken},
		{"no sign-in", tk.Sign(7, ""), ErrInvalidToken},
		{"earlier format", signV1("0123456789abcdef-test", 7, now), ErrInvalidToken},
		{"too long", strings.Repeat("a", 600), ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := tk.Verify(tt.token); !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%q) = %v, want %v", tt.token, err, tt.want)
			}
		})
	}
}

func TestTokenExpiry(t *testing.T) {
	now := time.Now()
	tk := newTokens(t, &now)
	tok := tk.Sign(1, "s1")
	now = now.Add(59 * time.Minute)
	if _, _, err := tk.Verify(tok); err != nil {
		t.Fatalf("within max age: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if _, _, err := tk.Verify(tok); !errors.Is(err, ErrExpiredToken) {
		t.Fatalf("after max age: %v, want ErrExpiredToken", err)
	}
	now = now.Add(-3 * time.Hour) // a token from the future
	if _, _, err := tk.Verify(tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("signed in the future: %v, want ErrInvalidToken", err)
	}
}

func TestShortSecretRefused(t *testing.T) {
	if _, err := NewTokens(TokenConfig{Secret: []byte("short")}); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
}

var cheap = Params{Memory: 64, Time: 1, Threads: 1}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse 1", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	if ok, err := VerifyPassword("correct horse 1", h); !ok || err != nil {
		t.Fatalf("right password: %v, %v", ok, err)
	}
	if ok, err := VerifyPassword("correct horse 2", h); ok || err != nil {
		t.Fatalf("wrong password: %v, %v", ok, err)
	}
	h2, _ := HashPassword("correct horse 1", cheap)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestPasswordDefaultParams(t *testing.T) {
	h, err := HashPassword("pw with digits 123", Params{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default hash %q", h)
	}
}

func TestMalformedHashes(t *testing.T) {
	good, _ := HashPassword("pw", cheap)
	parts := strings.Split(good, "$")
	for _, h := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=18$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=99999999,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$",
	} {
		if _, err := VerifyPassword("pw", h); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("VerifyPassword(%q) = %v, want ErrMalformedHash", h, err)
		}
	}
}
