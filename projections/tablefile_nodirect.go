//go:build !(linux || freebsd)

package projections

// oDirect is 0 where the system has no O_DIRECT (macOS, for one): tables
// are written through the page cache.
const oDirect = 0
