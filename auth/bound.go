package auth

import (
	"context"
	"errors"
	"runtime"
	"time"

	"golang.org/x/sync/semaphore"
)

// ErrBusy: every password-hashing slot stayed taken for as long as the
// caller may wait. The edge answers it 429 with a Retry-After.
var ErrBusy = errors.New("password hashing busy")

// HashBound bounds how many password hashes run at once. Each argon2id
// hash holds its memory cost (19 MiB by default) while it runs, so
// without a bound a burst of sign-ins can take the process's memory
// however the per-address limits are set. Share one HashBound across the
// process.
type HashBound struct {
	sem  *semaphore.Weighted
	wait time.Duration
}

// NewHashBound lets n hashes run at once (n <= 0: GOMAXPROCS, since a hash
// keeps a core busy); a caller waits up to wait for a turn.
func NewHashBound(n int, wait time.Duration) *HashBound {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &HashBound{sem: semaphore.NewWeighted(int64(n)), wait: max(wait, 0)}
}

// Do runs fn once a slot is free. It fails with ErrBusy when none frees
// within the bound's wait, or with ctx's error when ctx ends first.
func (b *HashBound) Do(ctx context.Context, fn func()) error {
	if !b.sem.TryAcquire(1) {
		wctx, cancel := context.WithTimeout(ctx, b.wait)
		err := b.sem.Acquire(wctx, 1)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return ErrBusy
		}
	}
	defer b.sem.Release(1)
	fn()
	return nil
}
