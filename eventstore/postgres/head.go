package postgres

import (
	"context"
	"fmt"

	"github.com/videologue/videologue/eventstore"
)

// Head returns the position and hash of the log's head row, which every
// append moves in the transaction that inserts its events: the chain of
// events must end there (or, with appends since, pass through it). An
// auditor's verify compares the two, since deleting the last events
// leaves a chain that holds on its own.
func (s *Store) Head(ctx context.Context) (uint64, [32]byte, error) {
	var pos int64
	var hash []byte
	var out [32]byte
	if err := s.pool.QueryRow(ctx, s.q.headRow).Scan(&pos, &hash); err != nil {
		return 0, out, &eventstore.Error{Op: "read", Stream: eventstore.AllStream, Err: fmt.Errorf("head row: %w", err)}
	}
	if pos < 0 || len(hash) != len(out) {
		return 0, out, &eventstore.Error{Op: "read", Stream: eventstore.AllStream, Err: fmt.Errorf("head row: position %d, hash of %d bytes", pos, len(hash))}
	}
	copy(out[:], hash)
	return uint64(pos), out, nil
}
