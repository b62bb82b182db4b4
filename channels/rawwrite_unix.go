//go:build unix

package channels

import "syscall"

// rawWrites says whether a connection's writer may write to its socket's
// file descriptor without blocking (see conn.writeRaw).
const rawWrites = true

// writeFD makes one write of b to the non-blocking descriptor fd.
func writeFD(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }
