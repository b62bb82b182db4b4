package projections

// Projection folds events into one read model.
type Projection interface {
	// Name identifies the projection: its checkpoint, its metrics label.
	// It never changes.
	Name() string
	// Version is the format of the projection's records. A model stored
	// in another format (or by a build from before formats were
	// recorded) is rebuilt from the log when the engine next catches up,
	// and Run refuses it: bump Version whenever the projection writes its
	// records or keys differently.
	Version() uint32
	// Prefix is the first byte of every key the projection writes; a
	// rebuild clears that range.
	Prefix() byte
	// Apply folds ev into the model through w, and does nothing else: no
	// other reads, no other writes, no goroutines. It is called from one
	// goroutine at a time, in log order, once for each event after the
	// checkpoint (it ignores those it does not use). An error means ev
	// is not applied and none of its staged writes are kept: ErrStorage
	// marks a failure of the database, retried until it succeeds;
	// ErrBadEvent (data that does not decode) has the event skipped and
	// recorded; anything else, or a panic, stops the projection.
	Apply(w *Writer, ev *Event) error
}

// Builtin returns Videologue's projections: the per-video activity, the
// auditors' trail and the replies. Users and videos are the accounts' and the
// catalog's models, not kept here a second time.
func Builtin() []Projection {
	return []Projection{activityProjection{}, auditProjection{}, repliesProjection{}}
}

// Names of the built-in projections.
const (
	NameActivity = "activity"
	NameAudit    = "audit"
)
