package main

import (
	"fmt"
	"math"
	"net"
	"strings"
)

// minSecretBits is the least estimated strength serve accepts for a
// production secret: tokens and cookies are HMACs under it, so guessing
// it is forging any sign-in.
const minSecretBits = 128

// makeSecretHint says how to make a secret that passes.
const makeSecretHint = "make one with: openssl rand -base64 32"

// secretBits estimates how many bits of guessing a secret resists. Each
// character is worth log2 of the alphabet its character classes span
// (lower case, upper case, digits, other ASCII, anything else), except
// characters a guesser gets for free: those that repeat a run of three
// already seen, and those that continue a steady step such as "abc" or
// "9876". It is an estimate that errs low for patterns and high for a
// secret made of dictionary words: it refuses what is obviously weak,
// it cannot prove that a secret is strong.
func secretBits(s string) float64 {
	var lower, upper, digit, other, nonASCII bool
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		case r < 0x80:
			other = true
		default:
			nonASCII = true
		}
	}
	alphabet := 0
	for _, c := range []struct {
		used bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 33}, {nonASCII, 128}} {
		if c.used {
			alphabet += c.size
		}
	}
	if alphabet < 2 {
		return 0
	}
	per := math.Log2(float64(alphabet))
	rs := []rune(s)
	bits := 0.0
	for i := range rs {
		if i >= 2 && (rs[i]-rs[i-1] == rs[i-1]-rs[i-2] || strings.Contains(string(rs[:i]), string(rs[i-2:i+1]))) {
			continue
		}
		bits += per
	}
	return bits
}

// checkSecret refuses a production secret that is too short or too
// predictable.
func checkSecret(secret string) error {
	if len(secret) < 32 {
		return fmt.Errorf("refusing to start: with --env prod the secret must be at least 32 characters (%s)", makeSecretHint)
	}
	if b := secretBits(secret); b < minSecretBits {
		return fmt.Errorf("refusing to start: the secret is too predictable (about %.0f bits, at least %d needed): use random bytes, not words or patterns (%s)", b, minSecretBits, makeSecretHint)
	}
	return nil
}

// loopbackAddr reports whether a listen address binds to loopback only:
// an IP address that is loopback, or "localhost". An empty host listens
// on every interface.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
