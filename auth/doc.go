// Package auth holds Videologue's two secrets-handling primitives: signed,
// expiring tokens that identify a user to the socket and the JSON API (like
// Phoenix.Token: HMAC-SHA256 over the payload with a key derived from the
// server's secret), and argon2id password hashes in the PHC string format.
// Every comparison of secret material is constant-time.
package auth
