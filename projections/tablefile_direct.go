//go:build linux || freebsd

package projections

import "golang.org/x/sys/unix"

// oDirect opens a file for writes around the page cache (see tableFile).
const oDirect = unix.O_DIRECT
