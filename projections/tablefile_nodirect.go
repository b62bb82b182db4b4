//go:build !(linux || freebsd)

package projections

import "os"

// oDirect is 0 where the system has no O_DIRECT (macOS and Windows, for
// two): tables are written through the page cache.
const oDirect = 0

func directRefused(error) bool { return false }

func directOff(*os.File) error { return nil }
