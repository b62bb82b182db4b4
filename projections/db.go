package projections

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/videologue/videologue/personal"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// DBConfig tunes the read-model database. The zero value is usable.
type DBConfig struct {
	// CacheBytes is pebble's block cache (default 256 MiB): as-of-T and
	// statistics scan a video's history, fast only from memory.
	CacheBytes int64
	// MemTableBytes is the size of pebble's memtable (default 64 MiB).
	// Pebble keeps up to two memtables, so memory use is up to twice
	// this.
	MemTableBytes int64
	// Keys opens the sealed names, texts, devices and addresses that the
	// models keep as the log has them: queries answer with the text, or
	// with "[erased]" once the user is erased. Nil: values as they are.
	Keys *personal.Keyring
}

// DB is the read-model database. It is safe for concurrent use; the
// projections are written by one Engine at a time.
type DB struct {
	db     *pebble.DB
	logger *slog.Logger
	keys   *personal.Keyring
}

// Open opens or creates the read-model database in dir.
func Open(dir string, cfg DBConfig, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = 256 << 20
	}
	if cfg.MemTableBytes <= 0 {
		cfg.MemTableBytes = 64 << 20
	}
	cache := pebble.NewCache(cfg.CacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:        cache,
		Logger:       pebbleLogger{logger},
		MemTableSize: uint64(cfg.MemTableBytes),
	}
	for i := range opts.Levels {
		// Projections look up keys that mostly do not exist yet (a new
		// viewer's viewing): pebble's bloom filters answer those without
		// reading a block.
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		// Only the last level, which holds most of the data, is
		// compressed: the levels above are rewritten by every compaction,
		// where compressing costs CPU and saves little disk.
		opts.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	opts.Levels[len(opts.Levels)-1].Compression = func() *sstable.CompressionProfile { return sstable.SnappyCompression }
	opts.EnsureDefaults()
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, &Error{Op: "open", Err: fmt.Errorf("read models in %s: %w", dir, err)}
	}
	return &DB{db: db, logger: logger, keys: cfg.Keys}, nil
}

// Close closes the database.
func (d *DB) Close() error {
	if err := d.db.Close(); err != nil {
		return &Error{Op: "close", Err: err}
	}
	return nil
}

// Checkpoint is how far a projection has applied the log.
type Checkpoint struct {
	// Position is the global position of the last event applied; 0 before
	// any.
	Position uint64
	// RecordedAt is that event's server time.
	RecordedAt time.Time
}

// Checkpoint returns the projection's checkpoint as committed.
func (d *DB) Checkpoint(name string) (Checkpoint, error) {
	v, closer, err := d.db.Get(checkpointKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return Checkpoint{}, nil
	}
	if err != nil {
		return Checkpoint{}, &Error{Op: "checkpoint", Projection: name, Err: err}
	}
	defer closer.Close()
	return decodeCheckpoint(v)
}

func encodeCheckpoint(c Checkpoint) []byte {
	b := make([]byte, 0, 16)
	b = binary.BigEndian.AppendUint64(b, c.Position)
	return binary.BigEndian.AppendUint64(b, timeKey(c.RecordedAt))
}

func decodeCheckpoint(v []byte) (Checkpoint, error) {
	if len(v) != 16 {
		return Checkpoint{}, &Error{Op: "checkpoint", Err: errCorrupt}
	}
	return Checkpoint{Position: binary.BigEndian.Uint64(v), RecordedAt: keyTime(binary.BigEndian.Uint64(v[8:]))}, nil
}

// Format returns the format of the named projection's records as
// stored (see Projection.Version), and false if none is recorded.
func (d *DB) Format(name string) (uint32, bool, error) {
	v, closer, err := d.db.Get(formatKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, &Error{Op: "format", Projection: name, Err: err}
	}
	defer closer.Close()
	if len(v) != 4 {
		return 0, false, &Error{Op: "format", Projection: name, Err: errCorrupt}
	}
	return binary.BigEndian.Uint32(v), true, nil
}

func encodeFormat(version uint32) []byte { return binary.BigEndian.AppendUint32(nil, version) }

// checkFormats returns the projections of ps whose model is stored in a
// format other than their Version, or was stored before formats were
// recorded: they must be rebuilt. It records the format of those that
// have no model yet.
func (d *DB) checkFormats(ps []Projection) ([]Projection, error) {
	var stale []Projection
	b := d.db.NewBatch()
	defer b.Close()
	for _, p := range ps {
		v, ok, err := d.Format(p.Name())
		if err != nil {
			return nil, err
		}
		if ok && v == p.Version() {
			continue
		}
		if !ok {
			cp, err := d.Checkpoint(p.Name())
			if err != nil {
				return nil, err
			}
			prefix := []byte{p.Prefix()}
			empty, err := d.empty(prefix, upper(prefix))
			if err != nil {
				return nil, &Error{Op: "format", Projection: p.Name(), Err: fmt.Errorf("%w: %w", ErrStorage, err)}
			}
			if cp.Position == 0 && empty { // nothing stored yet
				if err := b.Set(formatKey(p.Name()), encodeFormat(p.Version()), nil); err != nil {
					return nil, &Error{Op: "format", Projection: p.Name(), Err: fmt.Errorf("%w: %w", ErrStorage, err)}
				}
				continue
			}
		}
		stale = append(stale, p)
	}
	if b.Empty() {
		return stale, nil
	}
	return stale, d.commit(b, true)
}

// commit applies b atomically; sync waits for the write-ahead log to
// reach the disk.
func (d *DB) commit(b *pebble.Batch, sync bool) error {
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	if err := b.Commit(opt); err != nil {
		return &Error{Op: "commit", Err: fmt.Errorf("%w: %w", ErrStorage, err)}
	}
	return nil
}

// empty reports whether no key lies in [lo, hi).
func (d *DB) empty(lo, hi []byte) (bool, error) {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return false, err
	}
	found := it.First()
	return !found, errors.Join(it.Error(), it.Close())
}

// pebbleLogger routes pebble's logs to slog; fatal stays fatal.
type pebbleLogger struct{ l *slog.Logger }

func (q pebbleLogger) Infof(format string, args ...any)  { q.l.Debug(fmt.Sprintf(format, args...)) }
func (q pebbleLogger) Errorf(format string, args ...any) { q.l.Error(fmt.Sprintf(format, args...)) }
func (q pebbleLogger) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
