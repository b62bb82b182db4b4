package kurrentdb

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"

	"github.com/videologue/videologue/eventstore"
)

// The nodes sharing a log keep their heartbeats outside it, in one
// KurrentDB stream of their own beside the log's streams (leasesStream,
// under the store's prefix; never one of the log's streams). Each renewal
// is an event carrying the lease's length; the stream's $maxAge lets
// KurrentDB's scavenge drop renewals older than leasesMaxAge, so the
// stream does not grow for ever. A lease is measured by the server's
// clock: its event's creation time plus its length, against the newest
// event of the stream, which is at most one heartbeat old while any node
// (the one asking included) is alive.
const (
	leasesStream  = "videologue-node-leases"
	leasesMaxAge  = time.Hour
	leaseRenewed  = "lease_renewed"
	leaseReleased = "lease_released"
	// leasesPage is how many renewals one read goes back over; a read
	// goes on while the renewals can still hold a live lease.
	leasesPage = 256
)

type leaseEvent struct {
	Node  string `json:"node"`
	TTLMS int64  `json:"ttl_ms,omitempty"`
}

func (s *Store) leasesName() string { return s.cfg.Prefix + leasesStream }

// Renew records that node is alive for the next ttl.
func (s *Store) Renew(ctx context.Context, node string, ttl time.Duration) error {
	if err := s.limitLeasesAge(ctx); err != nil {
		return &eventstore.Error{Op: "renew lease", Err: err}
	}
	return s.appendLease(ctx, "renew lease", leaseRenewed, leaseEvent{Node: node, TTLMS: ttl.Milliseconds()})
}

// limitLeasesAge sets the leases stream's $maxAge, once per store.
func (s *Store) limitLeasesAge(ctx context.Context) error {
	s.leasesMu.Lock()
	defer s.leasesMu.Unlock()
	if s.leasesAged {
		return nil
	}
	var md kurrentdb.StreamMetadata
	md.SetMaxAge(leasesMaxAge)
	if _, err := s.client.SetStreamMetadata(ctx, s.leasesName(), kurrentdb.AppendToStreamOptions{}, md); err != nil {
		return err
	}
	s.leasesAged = true
	return nil
}

// Release ends node's lease.
func (s *Store) Release(ctx context.Context, node string) error {
	return s.appendLease(ctx, "release lease", leaseReleased, leaseEvent{Node: node})
}

func (s *Store) appendLease(ctx context.Context, op, typ string, e leaseEvent) error {
	data, _ := json.Marshal(e)
	ev := kurrentdb.EventData{EventID: uuid.New(), EventType: typ, ContentType: kurrentdb.ContentTypeJson, Data: data}
	if _, err := s.client.AppendToStream(ctx, s.leasesName(), kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.Any{}}, ev); err != nil {
		return &eventstore.Error{Op: op, Err: err}
	}
	return nil
}

// Alive returns the nodes whose lease has not expired: those whose newest
// event is a renewal still running at the stream's newest event.
func (s *Store) Alive(ctx context.Context) (map[string]bool, error) {
	alive := map[string]bool{}
	decided := map[string]bool{}
	var now time.Time
	var longest time.Duration
	var from kurrentdb.StreamPosition = kurrentdb.End{}
	for {
		evs, err := s.readKurrentStream(ctx, s.leasesName(), kurrentdb.Backwards, from, leasesPage)
		if err != nil {
			return nil, &eventstore.Error{Op: "read leases", Err: err}
		}
		for _, ev := range evs {
			if now.IsZero() {
				now = ev.CreatedDate
			}
			if now.Sub(ev.CreatedDate) > longest && longest > 0 {
				return alive, nil // older renewals cannot still be running
			}
			var e leaseEvent
			if json.Unmarshal(ev.Data, &e) != nil || decided[e.Node] {
				continue
			}
			decided[e.Node] = true
			ttl := time.Duration(e.TTLMS) * time.Millisecond
			longest = max(longest, ttl)
			if ev.EventType == leaseRenewed && ev.CreatedDate.Add(ttl).After(now) {
				alive[e.Node] = true
			}
		}
		if len(evs) < leasesPage || evs[len(evs)-1].EventNumber == 0 {
			return alive, nil
		}
		from = kurrentdb.Revision(evs[len(evs)-1].EventNumber - 1)
	}
}
