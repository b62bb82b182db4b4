// Package kurrentdb is Videologue's event log on a KurrentDB server or
// cluster, through the official client, github.com/kurrent-io/KurrentDB-Client-Go
// (package kurrentdb, v1.4.2). Several Videologue nodes may share one log:
// they open the same server with the same Config.Prefix, and each sees the
// others' appends, live, through its subscriptions.
//
//	s, err := kurrentdb.Open(ctx, "kurrentdb://localhost:2113?tls=false", kurrentdb.Config{}, logger)
//
// It needs KurrentDB (any release), or EventStoreDB 23.10 or later: Open
// checks. Its tests run the log's conformance suite when KURRENTDB_URL
// names a server, and skip otherwise.
//
// # Mapping
//
// Streams map one to one: Videologue's stream S is KurrentDB's stream
// Prefix+S, its revisions are KurrentDB's event numbers, and an append is one
// AppendToStream call, which KurrentDB makes durable (written and flushed on
// a quorum of a cluster) and visible atomically before it answers. The
// expected revision maps to KurrentDB's stream state: Any, NoStream,
// StreamExists, Exact(n) to Revision(n). An exact revision above
// math.MaxInt64, which KurrentDB cannot represent, fails without a call.
// KurrentDB's wrong-expected-version reply becomes a
// *eventstore.WrongExpectedRevisionError whose Actual is the current
// revision the server reported: client v1.4.2 keeps it only in its error
// text, which the store parses; should that text ever change shape, the
// store reads the stream's last revision instead, which another append may
// have moved by then.
//
// Each event's Data is stored byte for byte as the event's data (content
// type application/json, or application/octet-stream when empty), its Type
// as the event type, and RecordedAt is the server's created time (its
// clock, to 100 ns). KurrentDB event IDs are UUIDs: an ID in
// eventstore.NewID's canonical form is used as is; any other ID (the
// contract allows up to 64 bytes of any text) is mapped to a name-based
// UUID (version 5) and kept in the envelope below, so it reads back as
// given. KurrentDB recognises an append of event IDs it has just written
// to the stream as a retry (guaranteed with an expected revision, best
// effort with Any) and writes nothing again: the same IDs appended twice
// in a row to one stream may be stored once. Hash is always zero (see
// Auditing).
//
// # Positions
//
// The contract wants global positions that start at 1, strictly increase,
// and are contiguous within one append. KurrentDB gives every event a
// position in $all, its commit position, which equals its prepare position
// for events appended through gRPC: the byte offset of the event's record in
// KurrentDB's transaction log. Those offsets increase along the log, but
// the events of one append lie hundreds of bytes apart. So a Videologue
// position is
//
//	position = C << 16 | i
//
// where C is the commit position of the first event of the append and i
// the event's index in the append. Positions of one append are therefore
// contiguous, and the next append's start lies at least one record further
// in the log, so its positions are all greater. Positions are not dense:
// between appends they jump by about 65536 times the bytes written
// (the contract allows gaps between appends; the conformance suite asserts
// contiguity within an append only). The packing holds 256 TiB of log (C
// below 2^48) and 65535 events per append; a larger append fails with
// ErrTooManyEvents. Position>>16 is the commit position of the append's
// first event, as KurrentDB's UI shows it.
//
// An event does not know its append's first position, so the store writes
// the index (and the append's size) into the event's custom metadata, as a
// small JSON envelope around the caller's metadata:
//
//	{"videologue.v1":{"i":2,"n":3[,"id":"caller-id"]}[,"metadata":<caller's bytes>]}
//
// and, reading an event with i > 0, takes C from the event i revisions
// earlier in the same stream: from the same read when it is there (it
// nearly always is), else with one ReadStream. Metadata comes back byte for
// byte. An event in the store's streams written by another client has no
// envelope: it reads as an append of its own, its metadata as stored;
// KurrentDB's own $-typed events there (such as a deleted stream's
// tombstone) are left out.
//
// Appending returns the positions of what it wrote: the append's reply
// carries one log position for the whole append, so the store reads the
// first appended event back (one more round trip per append). That read
// runs even if the appender's context ends meanwhile, bounded by 30s.
//
// Reading from a position turns it back into a KurrentDB position. A
// position the store handed out starts at C, the start of a record, which
// KurrentDB can read from: forwards from C (inclusive), skipping what lies
// before the position in that append; backwards, the part of the append up
// to the position, then everything before C. KurrentDB refuses to read from
// an offset inside a record; a position the store never handed out (say,
// one less than the first event of an append, as paging backwards makes)
// is handled when it can be (p-1 of a first event reads back from that
// event's C) and otherwise by scanning from the store's floor (forwards)
// or from the end (backwards): correct, only slower.
//
// # Reads of $all and the prefix
//
// Client v1.4.2 offers server-side filters on subscriptions only, not on
// reads. ReadAll therefore reads $all unfiltered, a page at a time
// (Config.ScanPage), and keeps this store's streams: those named Prefix+S
// with S a valid stream name, which leaves out KurrentDB's own $-streams.
// Open finds the store's floor, the log position of its first event (with
// a catch-up subscription filtered on the server, which ends with the
// server's caught-up message) or, for a store with no events yet, the end of
// the log then: scans start or stop there rather than at the start of the
// log. On a server that Videologue has to itself (no prefix), reads cost what
// the log holds. On a server shared with other prefixes or applications,
// a read also transfers the interleaved events of the others, and reading
// backwards through a long stretch of them is slow: give each deployment a
// server, or a prefix whose events are not drowned in others'.
//
// # Subscriptions
//
// Subscriptions run the shared engine, eventstore.Subscribe, over ReadAll
// and ReadStream, so the switch from history to live is exact by
// construction: every event is read by position. A single follower per
// store keeps one KurrentDB subscription to $all from its end, filtered on
// the server to the store's streams, and advances the store's
// eventstore.Signal with each event, whichever node appended it. Should that
// subscription drop (a server restart, a leader change, the server judging
// the follower too slow), the follower wakes every subscription, resubscribes
// with backoff and wakes them again; each reads what it missed itself.
//
// SubscribeOptions.MaxLag counts positions, and a position here grows by
// about AvgEventBytes<<16 per event, so the store reads MaxLag as a number
// of events and multiplies it by Config.AvgEventBytes<<16. The drop is
// thus approximate: events larger than assumed, or other prefixes' events
// interleaved in the log, make a subscriber be dropped at fewer events of
// lag.
//
// # Auditing
//
// The store keeps no hash chain: KurrentDB does not run Videologue's commit
// path, and recomputing a chain in log order on every read would cost a
// read of the whole log. Tamper evidence on this backend rests on the
// server's own guarantees: the log is append-only through the API
// (events cannot be edited, only streams deleted or truncated, which an ACL
// can forbid), access is controlled per stream, and completed chunks carry
// a checksum, which detects corruption but not a deliberate rewrite by
// someone with access to the server's disk. Deployments that need the chain
// use the embedded or the PostgreSQL log.
//
// # Known gaps
//
//   - Not run against a real server where it was written (no KurrentDB, no
//     Docker there): the code follows the client's API and the server's
//     read, append and subscription code as published; the conformance suite
//     runs as soon as KURRENTDB_URL is set.
//   - The conformance suite appends events of eventstore.MaxEventSize (1 MiB)
//     beside others in one append; KurrentDB's default maximum append size is
//     1 MiB, so the server must run with a larger one (docker-compose.yml
//     sets KURRENTDB_MAX_APPEND_SIZE to 8 MiB). Over the server's limit,
//     Append fails with eventstore.ErrEventTooLarge.
//   - Deleting or truncating ($maxCount, $maxAge, $tb) one of the store's
//     streams behind its back breaks the contract: revisions gain holes, and
//     an append whose first event is gone cannot be given positions.
//   - The caller's metadata sits inside the envelope, so KurrentDB's own
//     projections that read top-level $correlationId or $causationId do not
//     see Videologue's correlation fields. The store appends with
//     AppendToStream, whose metadata is bytes; KurrentDB's newer
//     multi-stream appends want metadata of string values only, which the
//     envelope is not.
//   - An append whose context ends while KurrentDB is writing it may or may
//     not be written; the error says so. Retrying with the same event IDs
//     is safe: KurrentDB recognises the retry.
//   - In a secure cluster the connection's user must be allowed to read $all
//     and to subscribe to it with a filter (admins are).
//   - The client logs each failed call at its error level, cancellations
//     included; the store passes those lines to its logger at debug level.
package kurrentdb
