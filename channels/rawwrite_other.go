//go:build !unix

package channels

import "errors"

// rawWrites is false where a socket is not a descriptor that a write
// returns from at once when it has no room (Windows): the writer always
// goes through the connection's own writes there.
const rawWrites = false

func writeFD(uintptr, []byte) (int, error) { return 0, errors.ErrUnsupported }
