package pebble

import (
	"github.com/cockroachdb/pebble/v2"

	"github.com/videologue/videologue/eventstore"
)

// Backup writes a consistent copy of the log, as it is now, to dir, which
// must not exist: pebble's checkpoint of the database (its tables hard
// linked when dir is on the same filesystem, its write-ahead log copied),
// while appends go on. Every event acknowledged before Backup is called
// is in the copy.
//
// The copy holds no durable-head checkpoint (headFile): the one beside
// the live log may already record positions the copy does not hold, and
// would make the copy refuse to open as a lost tail. The first Open of the
// copy records its own head.
func (s *Store) Backup(dir string) error {
	s.readMu.RLock()
	defer s.readMu.RUnlock()
	if s.dbClosed {
		return &eventstore.Error{Op: "backup", Err: eventstore.ErrClosed}
	}
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return &eventstore.Error{Op: "backup", Err: err}
	}
	return nil
}
