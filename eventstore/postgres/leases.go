package postgres

import (
	"context"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// The nodes sharing a log keep their heartbeats here, outside it: one row
// per running node with the time its lease expires, by the database's
// clock, so that nodes whose clocks differ agree on who is alive.
// channels.Node renews its lease every heartbeat interval.

// Renew records that node is alive for the next ttl.
func (s *Store) Renew(ctx context.Context, node string, ttl time.Duration) error {
	if _, err := s.pool.Exec(ctx, s.q.renewLease, node, ttl.Seconds()); err != nil {
		return &eventstore.Error{Op: "renew lease", Err: err}
	}
	return nil
}

// Alive returns the nodes whose lease has not expired.
func (s *Store) Alive(ctx context.Context) (map[string]bool, error) {
	rows, err := s.pool.Query(ctx, s.q.aliveLeases)
	if err != nil {
		return nil, &eventstore.Error{Op: "read leases", Err: err}
	}
	defer rows.Close()
	alive := map[string]bool{}
	for rows.Next() {
		var node string
		if err := rows.Scan(&node); err != nil {
			return nil, &eventstore.Error{Op: "read leases", Err: err}
		}
		alive[node] = true
	}
	if err := rows.Err(); err != nil {
		return nil, &eventstore.Error{Op: "read leases", Err: err}
	}
	return alive, nil
}

// Release ends node's lease.
func (s *Store) Release(ctx context.Context, node string) error {
	if _, err := s.pool.Exec(ctx, s.q.releaseLease, node); err != nil {
		return &eventstore.Error{Op: "release lease", Err: err}
	}
	return nil
}
