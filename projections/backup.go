package projections

import "github.com/cockroachdb/pebble/v2"

// Backup writes a consistent copy of the read models, as they are now, to
// dir, which must not exist (pebble's checkpoint), while the engine goes
// on writing.
func (d *DB) Backup(dir string) error {
	if err := d.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return &Error{Op: "backup", Err: err}
	}
	return nil
}
