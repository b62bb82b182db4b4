//go:build linux || freebsd

package projections

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// oDirect opens a file for writes around the page cache (see tableFile).
const oDirect = unix.O_DIRECT

// directRefused reports whether err is the file system's refusal of
// O_DIRECT.
func directRefused(err error) bool { return errors.Is(err, unix.EINVAL) }

// directOff turns O_DIRECT off for f's later writes.
func directOff(f *os.File) error {
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err == nil {
		_, err = unix.FcntlInt(f.Fd(), unix.F_SETFL, flags&^oDirect)
	}
	return err
}
