package auth_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/auth"
)

// FuzzVerify: whatever a client sends as a token, Verify neither panics
// nor accepts anything but a token this key signed, byte for byte: a
// token that verifies is exactly Sign's output for its user and time.
func FuzzVerify(f *testing.F) {
	now := time.UnixMilli(1_790_000_000_000)
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: []byte(strings.Repeat("k", 32)), Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	valid := tokens.Sign(42, "AAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add(valid)
	f.Add(valid[:len(valid)-1] + "A")
	// The last of 43 base64 characters carries two spare bits: setting
	// them must not give a second valid spelling of the same signature.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	f.Add(valid[:len(valid)-1] + string(alphabet[strings.IndexByte(alphabet, valid[len(valid)-1])|1]))
	f.Add("v2.e30.")
	f.Add("v2." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"-1","iat":0}`)) + ".AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		id, signIn, err := tokens.Verify(token)
		if err != nil {
			return
		}
		if id <= 0 || signIn == "" {
			t.Fatalf("token %q verified to user %d", token, id)
		}
		// Only the canonical encoding of a signature is accepted:
		// re-encoding the decoded parts gives the token back.
		i := strings.LastIndex(token, ".")
		sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
		if err != nil || base64.RawURLEncoding.EncodeToString(sig) != token[i+1:] {
			t.Fatalf("token %q verified with a non-canonical signature", token)
		}
	})
}
