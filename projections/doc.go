// Package projections builds Videologue's read models from the event log
// and answers the analysts' and auditors' questions from them.
//
// # Storage
//
// Every read model lives in one local pebble database (by default
// <data>/readmodels), apart from the log. Each projection owns a key
// prefix (see keys.go), a checkpoint (the global position of the last
// event it has applied) and the format of its records (Version).
//
// # One engine
//
// An Engine reads the log in order, decodes each event once with the
// domain's types (NewEvent), hands it to every projection's Apply, which
// only stages writes through a Writer, and commits the writes of a batch
// of events with every projection's checkpoint in one pebble batch. The
// model and its checkpoint therefore move together or not at all: after
// a crash each projection resumes after its checkpoint, and an event at
// or below it is not applied again.
//
// The engine has three uses, which differ only in their settings
// (Config): CatchUp at start applies what the log gained while the
// server was down, in large batches; Rebuild clears the models first;
// Run follows the log live, a batch per watermill message.
//
// # Watermill
//
// Run consumes the log through a watermill message.Router with one
// handler and one subscription to the whole log (Subscriber), shared by
// all projections. A message carries the events available at once, so a
// burst costs one commit. The handler applies a message strictly: any
// failure drops its batch, and Retry tries again (Recoverer turns a panic
// outside Apply into an error). A failure that outlasts the retries goes
// to the poison queue, whose publisher applies the message leniently: an
// event a projection cannot decode (ErrBadEvent) is recorded and skipped
// (DB.Poisoned), and any other failure stops that projection alone. A
// storage failure is not poison: the message is nacked and delivered
// again, later and later, until the storage recovers.
//
// # Failure is visible
//
// Engine.Err names every projection that has stopped or cannot write; the
// server's /readyz answers 503 with it, the gauge
// videologue_projection_stopped says so per projection, and the engine
// logs it once.
//
// # Formats
//
// A build that changes how a projection encodes its records bumps its
// Version. New compares it with the format recorded beside the
// checkpoint; CatchUp rebuilds a model stored in another format before
// catching up, and Run refuses one.
//
// # Queries
//
// The read models answer the analysts (Timeline, StateAt, Viewings,
// Annotations; package stats summarizes them), the auditors (Audit; and
// Replies, LiveReplies and Item for the W3C export)
// from range scans that page through the database, so exports of any size
// stream in constant memory. connection_id is always the socket an event
// came from; a viewing's presence ref is a field of its own.
package projections
