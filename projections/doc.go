// Package projections builds Videologue's read models from the event log
// and answers the analysts' and auditors' questions from them.
//
// # Storage
//
// Every read model lives in one local pebble database (by default
// <data>/readmodels), apart from the log. Each projection owns a key
// prefix (see keys.go) and a checkpoint: the global position of the last
// event it has applied.
//
// # Checkpoints are atomic with the model
//
// A projection applies an event through a Writer, which stages the
// event's writes; the runner then puts them and the projection's new
// checkpoint in one pebble batch and commits it. The model and the
// checkpoint therefore move together or not at all: after a crash the
// projection resumes after its checkpoint, so no event is counted twice
// and none is skipped. An event at or below the checkpoint (a
// redelivery) is acknowledged without being applied again.
//
// # Watermill
//
// The running server consumes the log through a watermill message.Router:
// Subscriber adapts eventstore.SubscribeToAll to message.Subscriber (one
// topic per projection, starting after its checkpoint; one message at a
// time, the next only after Ack, a Nack redelivers), and each projection
// is a consumer handler behind the Recoverer, Retry and PoisonQueue
// middleware. An event a projection cannot apply even after retries goes
// to the poison queue, which records it with the projection's checkpoint
// in one batch; a storage failure is not poison: it is nacked and
// redelivered until it succeeds.
//
// A handler hands its message to the projection's worker goroutine,
// owned by Runner.Run, which applies and commits it; a panic there is
// raised again in the handler, for the Recoverer.
//
// # Batches
//
// Rebuilding from position 0 (videologue projections rebuild) and catching
// up at start (CatchUp) feed the same Apply methods in large batches
// instead of one message per event: each batch commits the events' writes
// with the checkpoints of the last event it holds, so an interrupted run
// resumes where its last batch ended. One goroutine reads the log and
// decodes it ahead, into pages whose memory serves again once applied;
// each projection applies on a goroutine of its own (appliers), and the
// activity projection in one partition per core, by video (its videos
// share no record). See Writer for how a projection's writes are staged,
// cached and committed.
//
// CatchUp commits through pebble's memtable, the batch before on a
// goroutine of its own while the next applies. A rebuild writes into
// ranges it has just cleared, so it skips the memtable: its writes are
// sealed every 16,384 events and sorted on the committer's goroutine, and
// the batch (usually the whole rebuild) is merged and written as sorted
// tables, four per core, around the page cache, that pebble ingests at the
// bottom of its tree with nothing to compact (see tableCommitter). Its
// logs and its caches' generations live in bulks of memory mapped outside
// the Go heap, each let go of as a whole when its batch is committed or
// its generation dropped (see bulk).
//
// # Formats
//
// Each projection names the format of its records (Projection.Version),
// and the database records it next to the checkpoint, set in the same
// batch that clears the projection's range for a rebuild. CatchUp
// rebuilds a model stored in another format, or stored before formats
// were recorded, before it catches up; a Runner refuses one. So a build
// that changes how a projection encodes its records bumps its Version,
// and the first start after an upgrade (or a downgrade) rebuilds that
// projection from the log instead of misreading it.
//
// # Queries
//
// The read models answer the analysts (Timeline, StateAt, Stats,
// Sessions, Annotations) and the auditors (Audit) from range scans that
// page through the database, so exports of any size stream in constant
// memory.
package projections
