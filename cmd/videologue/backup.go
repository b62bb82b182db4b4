package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/videologue/videologue/eventstore/pebble"
	pkeys "github.com/videologue/videologue/personal/pebble"
	"github.com/videologue/videologue/projections"
)

func backupCommand() command {
	return command{name: "backup", summary: "copy the embedded log and the read models to --to DIR, while the server serves or not", run: runBackup}
}

// backupMarker is written last into a backup: a directory without it is
// not a whole backup, and restore refuses it.
const backupMarker = "VIDEOLOGUE-BACKUP"

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: videologue backup --to DIR [flags]

A consistent copy of the embedded log and of the read models, taken while
the server serves (through its admin socket) or with it stopped. DIR must
not exist; restore it with `+"`videologue restore --from DIR --data DATA`"+`.
PostgreSQL and KurrentDB have their own backups (docs/BACKUP.md).

Flags:`)
		fs.PrintDefaults()
	}
	var c logFlags
	addLogFlags(fs, &c)
	to := fs.String("to", "", "directory to create with the copy")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected arguments: %v", pos)
	}
	if *to == "" {
		fs.Usage()
		return errors.New("--to is required")
	}
	// The server resolves paths in its own working directory.
	dir, err := filepath.Abs(*to)
	if err != nil {
		return err
	}
	if env := serverFrom(ctx); env != nil {
		if env.embedded == nil {
			return errors.New("this server's log is not the embedded one")
		}
		return backup(ctx, env.embedded, env.readModels.DB, env.keys, dir, stdout)
	}
	if err := c.Store.check(); err != nil {
		return err
	}
	if c.Store.Kind != storeEmbedded {
		return fmt.Errorf("--store %s: back it up with its own tools (docs/BACKUP.md)", c.Store.Kind)
	}
	if sock, ok, err := serverAnswers(ctx, c.Data); err != nil {
		return err
	} else if ok {
		return &errForward{socket: sock, args: []string{"backup", "--to", dir}}
	}
	logger := toolLogger(stderr)
	store, err := pebble.Open(c.Data, pebble.Config{CacheBytes: toolLogCache, MustExist: true}, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	db, closeDB, err := c.openReadModels(ctx, logger)
	if err != nil {
		return err
	}
	defer closeDB()
	var keys *pkeys.Store
	if _, err := os.Stat(keysDir(c.Data)); err == nil {
		if keys, err = pkeys.Open(keysDir(c.Data), logger); err != nil {
			return err
		}
		defer keys.Close()
	}
	return backup(ctx, store, db, keys, dir, stdout)
}

// backup copies log, read models and key store into dir, laid out as a
// data directory. The read models are copied first: they can then only
// be behind the log's copy, never ahead of it, and catch up when the copy
// is served. The key store is copied last: it holds the key of every user
// the log's copy names, less those erased meanwhile.
func backup(ctx context.Context, log *pebble.Store, rm *projections.DB, keys *pkeys.Store, dir string, stdout io.Writer) (err error) {
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("%s exists: back up into a new directory", dir)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	head, err := logHead(ctx, log)
	if err != nil {
		return err
	}
	start := time.Now()
	rmTmp := dir + ".readmodels.partial"
	defer func() {
		os.RemoveAll(rmTmp)
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := rm.Backup(rmTmp); err != nil {
		return err
	}
	if err := log.Backup(dir); err != nil {
		return err
	}
	if err := os.Rename(rmTmp, filepath.Join(dir, "readmodels")); err != nil {
		return err
	}
	if keys != nil {
		if err := keys.Backup(keysDir(dir)); err != nil {
			return err
		}
	}
	note := fmt.Sprintf("videologue backup\ntaken: %s\nholds the log up to at least position %d\n", start.UTC().Format(time.RFC3339), head)
	if err := writeSynced(filepath.Join(dir, backupMarker), []byte(note), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up the log (up to at least position %d) and the read models to %s in %s\n", head, dir, time.Since(start).Round(time.Millisecond))
	return nil
}

// writeSynced writes a file and syncs it and its directory.
func writeSynced(path string, b []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// copyTree copies the regular files and directories under from into to,
// which must not exist, syncing each.
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.Mkdir(dst, 0o755)
		case d.Type().IsRegular():
			return copyFile(path, dst)
		default:
			return nil // a socket, a link: not part of a backup
		}
	})
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}
