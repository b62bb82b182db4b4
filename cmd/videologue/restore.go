package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/videologue/videologue/audit"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	pkeys "github.com/videologue/videologue/personal/pebble"
)

func restoreCommand() command {
	return command{name: "restore", summary: "put a backup in place as --data (server stopped), verifying its hash chain", run: runRestore}
}

func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: videologue restore --from DIR --data DATA [--force]

Copies a backup made by `+"`videologue backup`"+` into DATA, with the server
stopped, and verifies the log's hash chain before putting it in place.
DATA must be empty or absent; with --force an existing DATA is moved
aside to DATA.before-restore-<time>.

Flags:`)
		fs.PrintDefaults()
	}
	from := fs.String("from", "", "the backup's directory")
	data := fs.String("data", "", "the data directory to restore into")
	force := fs.Bool("force", false, "move a non-empty --data aside instead of refusing")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected arguments: %v", pos)
	}
	if *from == "" || *data == "" {
		fs.Usage()
		return errors.New("--from and --data are required")
	}
	if _, err := os.Stat(filepath.Join(*from, backupMarker)); err != nil {
		return fmt.Errorf("%s is not a whole backup (no %s): %w", *from, backupMarker, err)
	}
	if sock, ok, err := serverAnswers(ctx, *data); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("a server runs on %s (it answers on %s): stop it first", *data, sock)
	}
	target := filepath.Clean(*data)
	empty, err := emptyDir(target)
	if err != nil {
		return err
	}
	if !empty && !*force {
		return fmt.Errorf("%s is not empty: restore into a new directory, or move it aside with --force", target)
	}

	// The copy is made and verified beside the target, then renamed into
	// place: an interrupted restore leaves the target as it was.
	tmp := target + ".restoring"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := copyTree(*from, tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("copy the backup: %w", err)
	}
	if err := verifyRestored(ctx, tmp, stdout, stderr); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if !empty {
		aside := fmt.Sprintf("%s.before-restore-%s", target, time.Now().UTC().Format("20060102T150405"))
		if err := os.Rename(target, aside); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("move %s aside: %w", target, err)
		}
		fmt.Fprintf(stdout, "moved the former %s to %s\n", target, aside)
	} else if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("put the restored copy in place: %w (it is in %s)", err, tmp)
	}
	fmt.Fprintf(stdout, "restored %s into %s; clients that saw later events are told history_rewound when they rejoin\n", *from, target)
	return nil
}

// verifyRestored opens the restored log in dir, which records its own
// durable head, and verifies its hash chain.
func verifyRestored(ctx context.Context, dir string, stdout, stderr io.Writer) error {
	// The marker stays with the backup; a head file, if one came with
	// the copy, is the live log's and may be ahead of it.
	for _, f := range []string{backupMarker, "VIDEOLOGUE-HEAD", adminSocket} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	store, err := pebble.Open(dir, pebble.Config{CacheBytes: toolLogCache, MustExist: true}, toolLogger(stderr))
	if err != nil {
		return fmt.Errorf("open the restored log: %w", err)
	}
	defer store.Close()
	bar := newProgress(stderr, "verifying")
	rep, err := audit.Verify(ctx, store, audit.Options{Progress: bar.update})
	bar.done()
	if err != nil {
		return fmt.Errorf("the backup does not verify, nothing restored: %w", err)
	}
	fmt.Fprintf(stdout, "ok: %d events verified\nhead: position %d, hash %s\n", rep.Events, rep.Head, hex.EncodeToString(rep.HeadHash[:]))
	n, err := applyErasures(ctx, store, keysDir(dir), toolLogger(stderr))
	if err != nil {
		return fmt.Errorf("re-applying the erasures of the restored log, nothing restored: %w", err)
	}
	if n > 0 {
		fmt.Fprintf(stdout, "erasures re-applied to the key store: %d\n", n)
	}
	return nil
}

// applyErasures deletes from the key store in dir the key of every user
// whose erasure the log records: a key store copied before an erasure the
// log's copy holds would otherwise read their data again. It returns how
// many erasures the log holds.
func applyErasures(ctx context.Context, log eventstore.Store, dir string, logger *slog.Logger) (int, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return 0, nil // a backup from before user keys
	}
	keys, err := pkeys.Open(dir, logger)
	if err != nil {
		return 0, err
	}
	defer keys.Close()
	n := 0
	for from := uint64(0); ; {
		evs, err := log.ReadStream(ctx, domain.UsersStream, eventstore.Forwards, from, 512)
		if err != nil {
			return n, err
		}
		for _, ev := range evs {
			if ev.Type != domain.TypeUserErased {
				continue
			}
			var e domain.UserErased
			if err := json.Unmarshal(ev.Data, &e); err != nil {
				return n, fmt.Errorf("user_erased at position %d: %w", ev.Position, err)
			}
			if err := keys.Erase(ctx, e.UserID); err != nil {
				return n, err
			}
			n++
		}
		if len(evs) < 512 {
			return n, nil
		}
		from = evs[len(evs)-1].Revision + 1
	}
}

// emptyDir reports whether dir is absent or holds nothing.
func emptyDir(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return len(entries) == 0, nil
}
