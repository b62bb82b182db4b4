// Package postgres is Videologue's event log on PostgreSQL, through
// github.com/jackc/pgx/v5. Several Videologue nodes may share one log: they
// open the same database and schema, and each sees the others' appends,
// live, through its subscriptions.
//
// # Tables
//
// Open creates or migrates, in one transaction, the schema named by
// Config.Schema:
//
//	events          one row per event: position (bigint, primary key),
//	                stream and revision (unique together), id (text,
//	                unique), type, data and metadata (bytea: the exact
//	                bytes appended; jsonb would reorder keys and drop
//	                whitespace), recorded_at (timestamptz, server clock)
//	                and hash (the eventstore.ChainHasher chain)
//	head            a single row: the last position and its hash
//	schema_version  the version of the tables, for later migrations
//
// PostgreSQL keeps timestamps to the microsecond, so RecordedAt comes back
// truncated to the microsecond; the hash chain is computed over that value.
//
// # Order: why a reader never sees position 11 before 10
//
// With a sequence, two transactions that draw 10 and 11 may commit in the
// other order; a reader could then see 11, move its cursor past it, and
// never see 10. Here no sequence assigns positions. Every append
// transaction first locks the single head row (SELECT … FOR UPDATE), reads
// the last position and hash there, writes its events after them, moves
// the head, and commits. The row lock is held until the commit, and
// PostgreSQL makes a commit visible to new snapshots before it releases the
// transaction's locks, so the next appender (in this process or any other
// node) can only read the head after the previous append is visible. Appends
// therefore commit, and become visible, in position order, and positions
// have no gaps. Because synchronous_commit is on, an append is also durable
// before anything can see it.
//
// Serializing every append on one row would be slow if each append were its
// own transaction: one WAL flush each. So each Store has a single committer
// goroutine (like eventstore/pebble's) that takes every pending append and
// writes them together in one transaction: two round trips (lock the head
// and read what the checks need; insert all the group's events in one
// statement, move the head, notify, commit) and one WAL flush for the whole
// group. The head lock is held through that flush, so groups run one after
// another; before taking a group the committer yields while appenders keep
// arriving, so that those its last commit answered join this group instead
// of waiting for the next whole one. Expected revisions are checked inside
// that transaction, against the stream heads read under the lock and the
// appends earlier in the group, so a failed expectation fails only its own
// append. The chain hash of each event is computed there too, in position
// order, from the head's hash.
//
// A commit whose outcome the connection did not report (it broke after the
// COMMIT was sent) is resolved before the appenders are answered: the
// store waits for the head lock on another connection and looks for the
// group's first event at its position. An error from Append thus means that
// nothing was written, unless it says that the outcome is unknown.
//
// # Subscriptions
//
// Subscriptions run eventstore.Subscribe, paging through the events table.
// They are woken by an eventstore.Signal that the committer advances after
// each local commit, and that a listener goroutine advances on
// notifications: every append transaction runs pg_notify on a channel named
// after the schema with the new head, delivered at commit to every node
// that LISTENs there. The listener holds its own connection. When that
// connection breaks it reconnects and wakes every subscription (a
// notification may have been lost meanwhile), and every Config.PollInterval
// without a notification it reads the head as a safety net.
package postgres
