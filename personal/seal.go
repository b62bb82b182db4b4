package personal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// Kind names what a sealed value is: it is part of the associated data,
// so a value opens only as the kind it was sealed as.
type Kind string

const (
	Username Kind = "username"
	Body     Kind = "body"
	Addr     Kind = "client_addr"
	Device   Kind = "device"
)

// Prefix starts every sealed value.
const Prefix = "sealed1:"

// ErasedText stands where an erased user's text was.
const ErasedText = "[erased]"

// ErasedUser is what an erased user is called from then on.
func ErasedUser(userID int64) string { return "erased user #" + strconv.FormatInt(userID, 10) }

// Erased is what a value of kind k of an erased user reads as.
func Erased(userID int64, k Kind) string {
	if k == Username {
		return ErasedUser(userID)
	}
	return ErasedText
}

// IsSealed reports whether v has the form of a sealed value.
func IsSealed(v string) bool { return strings.HasPrefix(v, Prefix) }

const (
	keySize   = 32
	nonceSize = 12
)

// errOpen: the value does not open with the key (altered, or not sealed
// with it).
var errOpen = errors.New("personal: value does not open")

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// additional is the associated data of a value: its user and its kind.
func additional(userID int64, k Kind) []byte {
	return strconv.AppendInt(append([]byte(k), 0), userID, 10)
}

// seal encrypts v with a fresh nonce.
func seal(a cipher.AEAD, userID int64, k Kind, v string) string {
	buf := make([]byte, nonceSize, nonceSize+len(v)+a.Overhead())
	_, _ = rand.Read(buf) // crypto/rand.Read never fails
	buf = a.Seal(buf, buf, []byte(v), additional(userID, k))
	out := make([]byte, len(Prefix)+base64.RawURLEncoding.EncodedLen(len(buf)))
	copy(out, Prefix)
	base64.RawURLEncoding.Encode(out[len(Prefix):], buf)
	return string(out)
}

// open decrypts a sealed value.
func open(a cipher.AEAD, userID int64, k Kind, v string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(v[len(Prefix):])
	if err != nil || len(raw) < nonceSize+a.Overhead() {
		return "", errOpen
	}
	p, err := a.Open(nil, raw[:nonceSize], raw[nonceSize:], additional(userID, k))
	if err != nil {
		return "", errOpen
	}
	return string(p), nil
}
