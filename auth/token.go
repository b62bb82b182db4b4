package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Token errors, for errors.Is. Neither says which part of a token was
// wrong: a client only learns that it must sign in again.
var (
	ErrInvalidToken = errors.New("invalid token")
	ErrExpiredToken = errors.New("expired token")
)

// MinSecretLen is the shortest secret New accepts.
const MinSecretLen = 16

// maxTokenLen bounds what Verify even looks at.
const maxTokenLen = 512

// TokenConfig configures Tokens.
type TokenConfig struct {
	// Secret is the server's signing secret (at least MinSecretLen bytes).
	Secret []byte
	// Salt separates the keys of tokens with different purposes: a token
	// signed with one salt does not verify with another (default "user").
	Salt string
	// MaxAge is how long a token stays valid after signing (default 24h).
	MaxAge time.Duration
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

// Tokens signs and verifies user tokens. It is safe for concurrent use.
type Tokens struct {
	key    []byte
	maxAge time.Duration
	now    func() time.Time
}

// NewTokens returns Tokens for cfg.
func NewTokens(cfg TokenConfig) (*Tokens, error) {
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("token secret must be at least %d bytes", MinSecretLen)
	}
	if cfg.Salt == "" {
		cfg.Salt = "user"
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// Derive a key per salt so that the raw secret never signs anything.
	m := hmac.New(sha256.New, cfg.Secret)
	m.Write([]byte("videologue token v2\x00" + cfg.Salt))
	return &Tokens{key: m.Sum(nil), maxAge: cfg.MaxAge, now: cfg.Now}, nil
}

// tokenPayload is what a token carries, before its signature.
type tokenPayload struct {
	Sub string `json:"sub"` // user id
	Sid string `json:"sid"` // the sign-in the token was minted for
	Iat int64  `json:"iat"` // signed at, unix milliseconds
}

// maxSignInLen bounds a sign-in id inside a token.
const maxSignInLen = 64

// b64 decodes strictly: the spare bits of a final character must be zero,
// so that a signature has exactly one spelling and a token cannot be
// altered without breaking it.
var b64 = base64.RawURLEncoding.Strict()

// tokenAlphabet reports whether s holds only base64url characters and
// dots. Go's base64 decoders skip '\r' and '\n' even in strict mode, so
// without this check a token with a newline inserted would still verify.
func tokenAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Sign returns a token for userID within sign-in signIn, valid for MaxAge
// from now unless the sign-in ends first: the token only proves who
// signed it and when, and whoever accepts it checks that signIn is live.
func (t *Tokens) Sign(userID int64, signIn string) string {
	p, _ := json.Marshal(tokenPayload{Sub: strconv.FormatInt(userID, 10), Sid: signIn, Iat: t.now().UnixMilli()})
	body := "v2." + b64.EncodeToString(p)
	return body + "." + b64.EncodeToString(t.mac(body))
}

func (t *Tokens) mac(body string) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Verify checks token's signature and age and returns the user id and
// the sign-in it names; whether that sign-in is still live is the
// caller's to check. A forged or malformed token gives ErrInvalidToken,
// an old one ErrExpiredToken. Tokens of the earlier format, which named
// no sign-in, are invalid.
func (t *Tokens) Verify(token string) (userID int64, signIn string, err error) {
	if len(token) > maxTokenLen || !tokenAlphabet(token) {
		return 0, "", ErrInvalidToken
	}
	body, sig, ok := cutLast(token, ".")
	if !ok || !strings.HasPrefix(body, "v2.") {
		return 0, "", ErrInvalidToken
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, t.mac(body)) {
		return 0, "", ErrInvalidToken
	}
	raw, err := b64.DecodeString(body[len("v2."):])
	if err != nil {
		return 0, "", ErrInvalidToken
	}
	var p tokenPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		return 0, "", ErrInvalidToken
	}
	id, err := strconv.ParseInt(p.Sub, 10, 64)
	if err != nil || id <= 0 || p.Sid == "" || len(p.Sid) > maxSignInLen {
		return 0, "", ErrInvalidToken
	}
	signed := time.UnixMilli(p.Iat)
	now := t.now()
	if signed.After(now.Add(time.Minute)) { // from the future: not ours
		return 0, "", ErrInvalidToken
	}
	if now.Sub(signed) > t.maxAge {
		return 0, "", ErrExpiredToken
	}
	return id, p.Sid, nil
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
