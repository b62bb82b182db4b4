package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/videologue/videologue/eventstore"
)

// commitTimeout bounds one group transaction, including the wait for the
// head lock that another node holds.
const commitTimeout = 30 * time.Second

// errConnLost marks a group that failed because its connection broke
// before its COMMIT was sent, or after but without committing: nothing was
// written, and trying again on a new connection is safe.
var errConnLost = errors.New("connection lost")

// committer owns the write path of one Store: its own connection, and the
// hasher of the chain.
type committer struct {
	s      *Store
	conn   *pgx.Conn // nil after a failure, until the next group reconnects
	hasher *eventstore.ChainHasher
}

// group is a group transaction's plan: the rows to insert, and what each
// append is answered once the transaction has committed.
type group struct {
	reqs    []*appendReq
	results []eventstore.AppendResult
	errs    []error // an append refused by its checks; nil if written

	positions, revisions []int64
	streams, ids, types  []string
	data, meta, hashes   [][]byte
	now                  time.Time
	first, last          uint64 // positions written; last is 0 if none
	lastHash             [32]byte
}

// commit writes the appends of reqs in one transaction and answers them.
func (c *committer) commit(ctx context.Context, reqs []*appendReq) {
	live := reqs[:0]
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil { // not yet written: honour it
			r.finish(eventstore.AppendResult{}, err)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	g, err := c.write(ctx, live)
	if errors.Is(err, errConnLost) {
		g, err = c.write(ctx, live) // once, on a new connection
	}
	if len(live) > 1 && refused(err) {
		// The server refused the group, perhaps for one append's sake
		// only: each is tried alone, so that it fails only itself.
		c.s.logger.Warn("group commit refused; committing its appends one by one", "appends", len(live), "err", err)
		for _, r := range live {
			c.commit(ctx, []*appendReq{r})
		}
		return
	}
	if err != nil {
		for _, r := range live {
			r.finish(eventstore.AppendResult{}, err)
		}
		return
	}
	if g.last > 0 {
		c.s.signal.Advance(g.last)
	}
	for i, r := range g.reqs {
		r.finish(g.results[i], g.errs[i])
	}
}

// write runs one group transaction: lock the head and read what the checks
// need, plan, then insert, move the head, notify and commit, each in one
// round trip.
func (c *committer) write(parent context.Context, reqs []*appendReq) (*group, error) {
	ctx, cancel := context.WithTimeout(parent, commitTimeout)
	defer cancel()
	if c.conn == nil || c.conn.IsClosed() {
		conn, err := pgx.ConnectConfig(ctx, c.s.roleConfig("committer"))
		if err != nil {
			return nil, fmt.Errorf("connecting: %w", err)
		}
		c.conn = conn
	}
	var streams, ids []string
	seen := map[string]bool{}
	for _, r := range reqs {
		if !seen[r.stream] {
			seen[r.stream] = true
			streams = append(streams, r.stream)
		}
		for i := range r.events {
			if id := r.events[i].ID; id != "" {
				ids = append(ids, id)
			}
		}
	}

	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(c.s.q.lockHead)
	// After the lock: the events' time is then never before the previous
	// group's.
	b.Queue("SELECT clock_timestamp()")
	b.Queue(c.s.q.streamHeads, streams)
	if len(ids) > 0 {
		b.Queue(c.s.q.existingIDs, ids)
	}
	var (
		headPos  int64
		headHash []byte
		now      time.Time
		heads    = make(map[string]int64, len(streams))
		taken    = map[string]bool{}
	)
	br := c.conn.SendBatch(ctx, b)
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&headPos, &headHash)
	}
	if err == nil {
		err = br.QueryRow().Scan(&now)
	}
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			var stream string
			var rev *int64
			_, err = pgx.ForEachRow(rows, []any{&stream, &rev}, func() error {
				heads[stream] = -1
				if rev != nil {
					heads[stream] = *rev
				}
				return nil
			})
		}
	}
	if err == nil && len(ids) > 0 {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			var id string
			_, err = pgx.ForEachRow(rows, []any{&id}, func() error { taken[id] = true; return nil })
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && len(headHash) != 32 {
		err = fmt.Errorf("head of the log has a hash of %d bytes", len(headHash))
	}
	if err != nil {
		return nil, c.abort(ctx, err)
	}

	g := c.plan(reqs, uint64(headPos), [32]byte(headHash), now.UTC(), heads, taken)
	if g.last == 0 { // every append was refused
		return g, c.abort(ctx, nil)
	}
	b = &pgx.Batch{}
	b.Queue(c.s.q.insert, g.positions, g.streams, g.revisions, g.ids, g.types, g.data, g.meta, g.now, g.hashes)
	b.Queue(c.s.q.moveHead, int64(g.last), g.lastHash[:])
	b.Queue("SELECT pg_notify($1, $2)", c.s.q.channel, strconv.FormatUint(g.last, 10))
	b.Queue("commit")
	br = c.conn.SendBatch(ctx, b)
	committed := false
	for i := range b.Len() {
		if _, err = br.Exec(); err != nil {
			break
		}
		committed = i == b.Len()-1
	}
	cerr := br.Close()
	if committed { // whatever came after COMMIT's reply
		if cerr != nil {
			c.drop(ctx)
		}
		return g, nil
	}
	if err == nil {
		err = cerr
	}
	if refused(err) || !c.conn.IsClosed() && c.conn.PgConn().TxStatus() != 'I' {
		// The server refused a statement, so it skipped the rest, COMMIT
		// included, or COMMIT itself failed; or the transaction is still
		// open: nothing was written.
		return nil, c.abort(ctx, err)
	}
	// The connection broke after COMMIT was sent (a FATAL error, such as
	// the server shutting down, may even come after the commit itself):
	// find out whether it happened before answering anyone.
	c.drop(ctx)
	return c.resolve(parent, g, err)
}

// refused reports whether err is the server refusing a statement, which
// then did nothing and aborted the transaction. A FATAL error is not one:
// the server ends the session with it, possibly after a COMMIT succeeded.
func refused(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	severity := pgErr.SeverityUnlocalized
	if severity == "" { // servers before 9.6
		severity = pgErr.Severity
	}
	return severity == "ERROR"
}

// abort ends the open transaction, if any, and returns err, marked with
// errConnLost if the connection broke (nil err: the rollback's error).
func (c *committer) abort(ctx context.Context, err error) error {
	if c.conn.IsClosed() {
		c.drop(ctx)
		if err == nil {
			err = errors.New("connection closed")
		}
		return fmt.Errorf("%w: %w", errConnLost, err)
	}
	if c.conn.PgConn().TxStatus() != 'I' {
		if _, rerr := c.conn.Exec(ctx, "rollback"); rerr != nil {
			c.drop(ctx)
			if err == nil { // the checks had refused every append, and nothing was written
				return nil
			}
		}
	}
	return err
}

func (c *committer) drop(ctx context.Context) {
	if c.conn != nil {
		c.conn.Close(ctx)
		c.conn = nil
	}
}

// resolve finds out whether g committed although its connection broke: it
// waits for the head lock on another connection (so that the old
// transaction has ended one way or the other) and looks for g's first
// event.
func (c *committer) resolve(ctx context.Context, g *group, cause error) (*group, error) {
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	var id string
	err := pgx.BeginFunc(ctx, c.s.pool, func(tx pgx.Tx) error {
		var pos int64
		var hash []byte
		if err := tx.QueryRow(ctx, c.s.q.lockHead).Scan(&pos, &hash); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, c.s.q.eventAtPosition, int64(g.first)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	switch {
	case err != nil:
		c.s.logger.Error("commit outcome unknown", "first_position", g.first, "err", cause, "check_err", err)
		return nil, fmt.Errorf("connection lost during commit, outcome unknown (%w); checking failed: %v", cause, err)
	case id != g.ids[0]: // nothing written: safe to try again
		return nil, fmt.Errorf("%w during commit, which did not happen: %w", errConnLost, cause)
	}
	c.s.logger.Warn("connection lost during commit, which happened", "first_position", g.first, "last_position", g.last, "err", cause)
	return g, nil
}

// plan checks each append against the stream heads and event IDs read
// under the head lock, and the appends before it in the group, and lays out
// the rows of those that pass, with their chain hashes, from the head.
func (c *committer) plan(reqs []*appendReq, head uint64, hash [32]byte, now time.Time, heads map[string]int64, taken map[string]bool) *group {
	g := &group{reqs: reqs, results: make([]eventstore.AppendResult, len(reqs)), errs: make([]error, len(reqs)), now: now}
	pos := head
	for i, r := range reqs {
		cur := heads[r.stream]
		if !r.expected.Check(cur) {
			g.errs[i] = &eventstore.WrongExpectedRevisionError{Stream: r.stream, Expected: r.expected, Actual: cur}
			continue
		}
		if err := claimIDs(r.events, taken); err != nil {
			g.errs[i] = err
			continue
		}
		first := pos + 1
		for j := range r.events {
			e := &r.events[j]
			cur++
			pos++
			ev := eventstore.RecordedEvent{
				ID: e.ID, Type: e.Type, Stream: r.stream, Revision: uint64(cur), Position: pos,
				RecordedAt: now, Data: e.Data, Metadata: e.Metadata,
			}
			if ev.ID == "" {
				ev.ID = eventstore.NewID()
			}
			hash = c.hasher.Sum(hash, &ev)
			g.positions = append(g.positions, int64(pos))
			g.streams = append(g.streams, r.stream)
			g.revisions = append(g.revisions, cur)
			g.ids = append(g.ids, ev.ID)
			g.types = append(g.types, ev.Type)
			g.data = append(g.data, nilIfEmpty(ev.Data))
			g.meta = append(g.meta, nilIfEmpty(ev.Metadata))
			g.hashes = append(g.hashes, append([]byte(nil), hash[:]...))
		}
		heads[r.stream] = cur
		g.results[i] = eventstore.AppendResult{NextExpected: uint64(cur), FirstPosition: first, LastPosition: pos}
	}
	if pos > head {
		g.first, g.last, g.lastHash = head+1, pos, hash
	}
	return g
}

// claimIDs refuses events whose IDs are taken or repeated, or else takes
// them.
func claimIDs(events []eventstore.EventData, taken map[string]bool) error {
	mine := map[string]bool{}
	for i := range events {
		id := events[i].ID
		if id == "" {
			continue
		}
		if taken[id] || mine[id] {
			return fmt.Errorf("event %d: id %q is already in the log: %w", i, id, eventstore.ErrInvalidEvent)
		}
		mine[id] = true
	}
	for id := range mine {
		taken[id] = true
	}
	return nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
