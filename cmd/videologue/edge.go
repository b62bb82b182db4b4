package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"
)

// EdgeConfig bounds what one client can hold of the HTTP server: how long
// it may take to send a request, how large its headers may be, how many
// connections one address may keep open, and how many password hashes run
// at once.
type EdgeConfig struct {
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included. A
	// websocket is not cut by it: the upgrade clears the deadline and the
	// socket keeps its own idle timeout.
	ReadTimeout    time.Duration
	IdleTimeout    time.Duration
	MaxHeaderBytes int
	// MaxConnsPerAddr caps the open TCP connections (websockets included)
	// of one client address, an IPv6 client by its /64; 0 means no cap.
	MaxConnsPerAddr int
	// MaxHashes bounds the password hashes computed at once, process-wide
	// (each takes argon2id's memory); HashWait is how long a sign-in waits
	// for a turn before it is answered 429.
	MaxHashes int
	HashWait  time.Duration
}

func addEdgeFlags(fs *flag.FlagSet, c *EdgeConfig) {
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "time a client has to send a request's headers")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", 30*time.Second, "time a client has to send a whole request, body included (websockets are not cut by it)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 120*time.Second, "how long a kept-alive connection may wait for its next request")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", 64<<10, "largest request line and headers accepted, in bytes (larger: 431)")
	fs.IntVar(&c.MaxConnsPerAddr, "max-conns-per-addr", 128, "open TCP connections allowed per client address, IPv6 per /64 (websockets included; more are closed at once; 0: no cap). Behind a reverse proxy every connection comes from the proxy: raise it or set 0")
	fs.IntVar(&c.MaxHashes, "max-hashes", runtime.GOMAXPROCS(0), "password hashes computed at once (argon2id, 19 MiB each); more sign-ins wait up to --hash-wait, then get 429")
	fs.DurationVar(&c.HashWait, "hash-wait", 2*time.Second, "how long a sign-in or registration waits for a hashing slot before 429")
}

func (c EdgeConfig) check() error {
	switch {
	case c.ReadHeaderTimeout <= 0 || c.ReadTimeout <= 0 || c.IdleTimeout <= 0:
		return errors.New("--read-header-timeout, --read-timeout and --idle-timeout must be positive")
	case c.MaxHeaderBytes < 4<<10:
		return errors.New("--max-header-bytes must be at least 4096")
	case c.MaxConnsPerAddr < 0:
		return errors.New("--max-conns-per-addr must be 0 (no cap) or more")
	case c.MaxHashes < 1:
		return errors.New("--max-hashes must be at least 1")
	case c.HashWait < 0:
		return errors.New("--hash-wait must not be negative")
	}
	return nil
}

// parsePublicURL checks a --public-url and returns it without a trailing
// slash: an http or https origin, with no path, query or credentials,
// since links are built by appending paths to it.
func parsePublicURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--public-url %q: want the site's origin, such as https://videologue.example or http://127.0.0.1:4000", s)
	}
	return u.Scheme + "://" + u.Host, nil
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// publicHost is the host (and port, if any) of a checked public URL.
func publicHost(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil {
		return ""
	}
	return u.Host
}
