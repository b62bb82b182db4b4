package projections

// Projection folds events into one read model.
type Projection interface {
	// Name identifies the projection: its checkpoint, its watermill topic
	// and handler, its metrics label. It never changes.
	Name() string
	// Version is the format of the projection's records. A model stored
	// in another format (or by a build from before formats were
	// recorded) is rebuilt from the log when the projections next catch
	// up (see CatchUp), and a Runner refuses it: bump Version whenever the
	// projection writes its records or keys differently.
	Version() uint32
	// Prefix is the first byte of every key the projection writes; a
	// rebuild clears that range.
	Prefix() byte
	// Apply folds ev into the model through w. It is called from one
	// goroutine at a time, in log order, once for each event after the
	// checkpoint, and for every event of the log (it ignores those it
	// does not use). ev, and the strings and bytes it holds, are valid
	// only until Apply returns: a batched run reuses their memory. An error means ev is not applied and none of its
	// staged writes are kept; ErrStorage marks an error worth retrying
	// forever, anything else goes to the poison queue after the retries.
	Apply(w *Writer, ev *Event) error
}

// Builtin returns Videologue's projections: videos, users, the per-video
// activity and the auditors' trail.
func Builtin() []Projection {
	return []Projection{videosProjection{}, usersProjection{}, activityProjection{}, auditProjection{}}
}

// Names of the built-in projections.
const (
	NameVideos   = "videos"
	NameUsers    = "users"
	NameActivity = "activity"
	NameAudit    = "audit"
)
