package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/videologue/videologue/audit"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/personal"
)

func logCommand() command {
	return command{name: "log", summary: "copy an embedded log into a new one with its personal data sealed (seal --to DIR), offline", run: runLog}
}

func runLog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("log", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: videologue log seal --data DATA --to DIR

Copies the embedded log in DATA, with the server stopped, into a new data
directory DIR: every event at the same position, revision and time, with
the personal data that events written before sealing existed hold in
plaintext (usernames, annotation texts, devices, client addresses) sealed
with their users' keys (DATA's key store is copied first). Values of users
erased meanwhile are written as erased. The copy ends with a
log_copied.v1 event that records the original's head position and hash.
Verify both logs, then serve DIR and retire DATA (docs/BACKUP.md).

Flags:`)
		fs.PrintDefaults()
	}
	data := fs.String("data", "./data", "the data directory of the log to copy")
	to := fs.String("to", "", "the new data directory (must not exist)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "seal" || *to == "" {
		fs.Usage()
		return errors.New("usage: videologue log seal --data DATA --to DIR")
	}
	if _, err := os.Lstat(*to); err == nil {
		return fmt.Errorf("%s exists: copy into a new directory", *to)
	}
	if sock, ok, err := serverAnswers(ctx, *data); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("a server runs on %s (it answers on %s): stop it first", *data, sock)
	}
	dataKey, err := dataKeyFromEnv(false)
	if err != nil {
		return err
	}
	return sealCopy(ctx, *data, *to, dataKey, stdout, stderr)
}

// sealCopy copies the log in from into a new log in to, sealing.
func sealCopy(ctx context.Context, from, to, dataKey string, stdout, stderr io.Writer) error {
	logger := toolLogger(stderr)
	src, err := pebble.Open(from, pebble.Config{CacheBytes: toolLogCache, MustExist: true}, logger)
	if err != nil {
		return err
	}
	defer src.Close()
	rep, err := audit.Verify(ctx, src, audit.Options{})
	if err != nil {
		return fmt.Errorf("the log to copy does not verify, nothing copied: %w", err)
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(keysDir(from)); err == nil {
		if err := copyTree(keysDir(from), keysDir(to)); err != nil {
			return fmt.Errorf("copying the key store: %w", err)
		}
	}
	keys, _, closeKeys, err := openKeyring(ctx, to, StoreConfig{Kind: storeEmbedded}, dataKey, logger)
	if err != nil {
		return err
	}
	defer closeKeys()
	var clock atomic.Pointer[time.Time]
	dst, err := pebble.Open(to, pebble.Config{Now: func() time.Time {
		if t := clock.Load(); t != nil {
			return *t
		}
		return time.Now()
	}}, logger)
	if err != nil {
		return err
	}
	defer dst.Close()

	// Consecutive events of one stream stamped at one time (one group of
	// the original) are appended at once: positions, revisions and
	// times come out as the original's.
	var run []eventstore.EventData
	var runStream string
	var runAt time.Time
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		at := runAt
		clock.Store(&at)
		_, err := dst.Append(ctx, runStream, eventstore.Any, run...)
		run = run[:0]
		return err
	}
	var copied uint64
	err = eventstore.ScanAll(ctx, src, 1, rep.Head, func(ev *eventstore.RecordedEvent) error {
		if ev.Stream != runStream || !ev.RecordedAt.Equal(runAt) {
			if err := flush(); err != nil {
				return err
			}
			runStream, runAt = ev.Stream, ev.RecordedAt
		}
		d, err := sealEvent(ctx, keys, ev)
		if err != nil {
			return fmt.Errorf("event at position %d: %w", ev.Position, err)
		}
		run = append(run, d)
		copied++
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("copying the log: %w", err)
	}
	clock.Store(nil)
	link, _ := json.Marshal(domain.LogCopied{FromPosition: rep.Head, FromHash: hex.EncodeToString(rep.HeadHash[:]), Sealed: true})
	if _, err := dst.Append(ctx, domain.CopiesStream, eventstore.Any, eventstore.EventData{Type: domain.TypeLogCopied, Data: link}); err != nil {
		return fmt.Errorf("recording the copy: %w", err)
	}
	fmt.Fprintf(stdout, "copied %d events into %s, personal data sealed\noriginal head: position %d, hash %s\n", copied, to, rep.Head, hex.EncodeToString(rep.HeadHash[:]))
	return nil
}

// sealedFields are the personal fields of each event type's data.
var sealedFields = map[string][]struct {
	name string
	kind personal.Kind
}{
	domain.TypeUserRegistered:   {{"username", personal.Username}},
	domain.TypeAnnotationPosted: {{"username", personal.Username}, {"body", personal.Body}},
	domain.TypeAnnotationEdited: {{"body", personal.Body}},
	domain.TypeViewerJoined:     {{"username", personal.Username}, {"device", personal.Device}},
}

// sealEvent returns ev to append, its personal fields sealed with the
// key of the user they belong to (an erased user's written as erased).
func sealEvent(ctx context.Context, keys *personal.Keyring, ev *eventstore.RecordedEvent) (eventstore.EventData, error) {
	out := eventstore.EventData{ID: ev.ID, Type: ev.Type, Data: append(json.RawMessage(nil), ev.Data...), Metadata: append(json.RawMessage(nil), ev.Metadata...)}
	var fields map[string]json.RawMessage
	if json.Unmarshal(ev.Data, &fields) != nil {
		return out, nil // not an object: nothing of ours to seal
	}
	var user int64
	if ev.Type == domain.TypeUserRegistered {
		user = domain.IDFromRevision(ev.Revision)
	} else if raw, ok := fields["user_id"]; ok {
		_ = json.Unmarshal(raw, &user)
	}
	seal := func(kind personal.Kind, v string) (string, error) {
		if v == "" || personal.IsSealed(v) || user <= 0 {
			return v, nil
		}
		s, err := keys.Seal(ctx, user, kind, v)
		if errors.Is(err, personal.ErrErased) {
			return personal.Erased(user, kind), nil
		}
		return s, err
	}
	changed := false
	for _, f := range sealedFields[ev.Type] {
		var v string
		if raw, ok := fields[f.name]; !ok || json.Unmarshal(raw, &v) != nil {
			continue
		}
		s, err := seal(f.kind, v)
		if err != nil {
			return out, err
		}
		if s != v {
			fields[f.name], _ = json.Marshal(s)
			changed = true
		}
	}
	if changed {
		out.Data, _ = json.Marshal(fields)
	}
	if len(ev.Metadata) > 0 {
		var meta map[string]json.RawMessage
		if json.Unmarshal(ev.Metadata, &meta) == nil {
			var addr, uid string
			_ = json.Unmarshal(meta["client_addr"], &addr)
			_ = json.Unmarshal(meta["user_id"], &uid)
			if id, err := strconv.ParseInt(uid, 10, 64); err == nil && id > 0 {
				user = id
			}
			s, err := seal(personal.Addr, addr)
			if err != nil {
				return out, err
			}
			if s != addr {
				meta["client_addr"], _ = json.Marshal(s)
				out.Metadata, _ = json.Marshal(meta)
			}
		}
	}
	return out, nil
}
