// Package system holds tests that run the real videologue binary as a
// child process and drive it from outside, the way clients and operators
// do: the chaos test of exact delivery (SIGKILL and restart under load),
// the graceful shutdown test (SIGTERM under load), the hostile input
// table, and storage faults (a full disk on a small tmpfs, damaged files,
// a lost tail). It has no non-test code besides this comment.
package system
