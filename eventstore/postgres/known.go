package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// maxKnownStreams bounds the stream heads a committer remembers; past it,
// it forgets them all and learns again those that are appended to.
const maxKnownStreams = 1 << 16

// logState is what a committer knows of the log after its last commit:
// the head, the revisions of the streams it has read or written, and the
// server's clock. It stays true until another node appends, which the
// guards of the next group's statements detect (see queries.insert).
type logState struct {
	valid bool
	head  struct {
		pos  uint64
		hash [32]byte
	}
	revs   map[string]int64 // -1: the stream has no events
	lastAt time.Time        // RecordedAt of the last group written
	// The server's clock read at serverAt was the local clock's localAt
	// (taken when the reply came, so at or after the server read it).
	serverAt, localAt time.Time
	// Groups to plan under the lock without trying the one round trip
	// first: another node was appending when it last failed, and a failed
	// try costs a round trip of its own.
	skip int
}

// skipAfterMiss is how many groups take the two round trips after a try
// found that another node had moved the head.
const skipAfterMiss = 8

func (c *committer) forget() {
	c.state.valid = false
	clear(c.state.revs)
}

func (c *committer) sync(server, local time.Time) {
	c.state.serverAt, c.state.localAt = server, local
}

// learn records the log after g committed; reset drops the stream heads
// known before, which another node may have moved.
func (c *committer) learn(g *group, heads map[string]int64, reset bool) {
	if c.state.revs == nil {
		c.state.revs = make(map[string]int64, len(heads))
	}
	if reset || len(c.state.revs)+len(heads) > maxKnownStreams {
		clear(c.state.revs)
	}
	for s, rev := range heads {
		c.state.revs[s] = rev
	}
	c.state.valid = true
	c.state.head.pos, c.state.head.hash = g.last, g.lastHash
	c.state.lastAt = g.now
}

// estimate is the server's clock now, as far as the committer can tell
// without asking: it lags behind by about half a round trip, so a group
// that another node writes next, with the server's clock, does not get an
// earlier time. It is never before the last group's time.
func (c *committer) estimate() time.Time {
	t := c.state.serverAt.Add(time.Since(c.state.localAt)).Truncate(time.Microsecond).UTC()
	if t.Before(c.state.lastAt) {
		return c.state.lastAt
	}
	return t
}

// writeKnown writes reqs as one group planned from what the committer
// knows, in one round trip: begin, move the head (which takes its lock),
// insert, notify, commit (queueWrites). It declines (done false, nothing
// written) when it cannot plan the group so: after a failure, for a while
// after another node's append defeated it, for a stream it does not know,
// for events with IDs of their own (whether they are taken is read from
// the log), or when an append fails its expected revision (refusals are
// decided on what the log holds under the lock); and when another node
// moved the head meanwhile, which the statements' guards then see.
func (c *committer) writeKnown(ctx, parent context.Context, reqs []*appendReq) (g *group, done bool, err error) {
	if !c.state.valid {
		return nil, false, nil
	}
	if c.state.skip > 0 {
		c.state.skip--
		return nil, false, nil
	}
	heads := make(map[string]int64, len(reqs))
	for _, r := range reqs {
		rev, ok := c.state.revs[r.stream]
		if !ok {
			return nil, false, nil
		}
		for i := range r.events {
			if r.events[i].ID != "" {
				return nil, false, nil
			}
		}
		heads[r.stream] = rev
	}
	head := c.state.head.pos
	g = c.plan(reqs, head, c.state.head.hash, c.estimate(), heads, map[string]bool{})
	for _, err := range g.errs {
		if err != nil {
			return nil, false, nil
		}
	}
	b := &pgx.Batch{}
	b.Queue("begin")
	// Moving the head takes its lock; if another node has moved it,
	// nothing is written, nor locked, so the commit costs no WAL flush.
	moved := int64(-1) // unknown: the connection broke, and resolve found the group
	c.queueWrites(b, g, head).Exec(func(ct pgconn.CommandTag) error { moved = ct.RowsAffected(); return nil })
	var server time.Time
	b.Queue("SELECT clock_timestamp()").QueryRow(func(row pgx.Row) error { return row.Scan(&server) })
	if g, err = c.send(ctx, parent, g, b); err != nil {
		return nil, true, err
	}
	if moved == 0 { // another node had moved the head: nothing was written
		c.forget()
		c.state.skip = skipAfterMiss
		return nil, false, nil
	}
	if !server.IsZero() {
		c.sync(server, time.Now())
	}
	c.learn(g, heads, false)
	return g, true, nil
}
