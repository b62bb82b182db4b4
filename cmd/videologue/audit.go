package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/audit"
	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/export"
	"github.com/videologue/videologue/internal/timearg"
	"github.com/videologue/videologue/projections"
)

func auditCommand() command {
	return command{name: "audit", summary: "for auditors: verify the log's hash chain, who commented when (trail), Web Annotation export (jsonld), the raw log (log)", run: runAudit}
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: videologue audit WHAT [flags]

  verify    walk the log's hash chain; name the first event that does not match (exit 1);
            with --anchor, also check that the log still holds what an earlier verify printed
  trail     every annotation event, by --user, --video and [--from, --to), with who and from where
  jsonld    a video's annotations as W3C Web Annotations (JSON-LD)
  log       the raw log as NDJSON, positions [--first, --last], with every hash and what it
            covers, to check the chain with tools of your own (docs/ANALYSTS-AND-AUDITORS.md);
            it holds all the log holds, password hashes included: treat it as a backup
  accept-loss  open an embedded log that ends below the head it had made durable (after a
            damaged write-ahead log, when no backup is better), and record where it ends
            now; the positions above it will be reused (docs/DEPLOYMENT.md, "Damaged data")

Flags:`)
		fs.PrintDefaults()
	}
	var c logFlags
	addLogFlags(fs, &c)
	workers := fs.Int("workers", 0, "verify: parallel workers (default: one per core)")
	var anchors anchorList
	fs.Var(&anchors, "anchor", "verify: POSITION:HASH that an earlier verify printed, kept outside the log; repeatable. Catches events removed from the end and a chain recomputed over altered events")
	user := fs.String("user", "", "trail: only this user (name)")
	video := fs.Int64("video", 0, "trail: only this video; jsonld: the video")
	from := fs.String("from", "", "trail: start of the window")
	to := fs.String("to", "", "trail: end of the window, exclusive")
	format := fs.String("format", "ndjson", "trail: ndjson or csv")
	first := fs.Uint64("first", 1, "log: the first position")
	last := fs.Uint64("last", 0, "log: the last position (default: the head)")
	base := fs.String("base", "http://127.0.0.1:4000", "jsonld: the site's address, for the annotations' IRIs")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("say what to audit")
	}
	logger := toolLogger(stderr)
	switch pos[0] {
	case "verify":
		store, err := c.openLog(ctx, logger)
		if err != nil {
			return err
		}
		defer store.Close()
		bar := newProgress(stderr, "verifying")
		rep, err := audit.Verify(ctx, store, audit.Options{Workers: *workers, Progress: bar.update, Anchors: anchors})
		bar.done()
		if err != nil {
			return err
		}
		rate := float64(rep.Events) / max(rep.Elapsed.Seconds(), 1e-9)
		fmt.Fprintf(stdout, "ok: %d events verified in %s (%.0f events/s)\nhead: position %d, hash %s\n",
			rep.Events, rep.Elapsed.Round(time.Millisecond), rate, rep.Head, hex.EncodeToString(rep.HeadHash[:]))
		if len(anchors) > 0 {
			fmt.Fprintf(stdout, "anchors held: %d\n", len(anchors))
		}
		if rep.Head > 0 {
			fmt.Fprintf(stdout, "anchor for later checks (keep it outside this machine): --anchor %s\n", audit.Anchor{Position: rep.Head, Hash: rep.HeadHash})
		}
		return nil
	case "accept-loss":
		if c.Store.Kind != storeEmbedded {
			return errors.New("accept-loss is for the embedded log (--data)")
		}
		store, err := c.openLogWith(ctx, pebble.Config{CacheBytes: toolLogCache, MustExist: true, AcceptLoss: true}, logger)
		if err != nil {
			return err
		}
		defer store.Close()
		last, err := store.ReadAll(ctx, eventstore.Backwards, eventstore.End, 1)
		if err != nil {
			return err
		}
		var head uint64
		if len(last) > 0 {
			head = last[0].Position
		}
		fmt.Fprintf(stdout, "accepted: the log in %s now ends at position %d; run `videologue audit verify` next\n", c.Data, head)
		// The read models may hold events the log lost: they are
		// rebuilt from the log at the next start.
		rm := c.readModelsDir()
		if _, err := os.Stat(rm); err == nil {
			aside := fmt.Sprintf("%s.lost-tail-%s", rm, time.Now().UTC().Format("20060102T150405"))
			if err := os.Rename(rm, aside); err != nil {
				return fmt.Errorf("move the read models aside, to rebuild them from the log: %w", err)
			}
			fmt.Fprintf(stdout, "moved the read models to %s: they are rebuilt from the log when next opened\n", aside)
		}
		return nil
	case "trail":
		now := time.Now()
		f := projections.AuditFilter{VideoID: *video}
		if f.From, err = timearg.Parse(*from, now); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
		if f.To, err = timearg.Parse(*to, now); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
		fm, err := export.ParseFormat(*format)
		if err != nil {
			return err
		}
		store, db, closeBoth, err := c.openBoth(ctx, stderr, logger)
		if err != nil {
			return err
		}
		defer closeBoth()
		if *user != "" {
			users := accounts.New(store, accounts.Config{}, logger)
			if err := users.Start(ctx); err != nil {
				return err
			}
			u, err := users.ByUsername(ctx, *user)
			users.Close()
			if err != nil {
				return fmt.Errorf("user %q: %w", *user, err)
			}
			f.UserID = u.ID
		}
		w := export.Entries(stdout, fm)
		if err := db.Audit(ctx, f, w.Write); err != nil {
			return err
		}
		return w.Flush()
	case "log":
		store, err := c.openLog(ctx, logger)
		if err != nil {
			return err
		}
		defer store.Close()
		to := *last
		if to == 0 {
			to = eventstore.End
		}
		return audit.WriteLog(ctx, store, stdout, *first, to)
	case "jsonld":
		if *video <= 0 {
			return errors.New("--video is required")
		}
		store, db, closeBoth, err := c.openBoth(ctx, stderr, logger)
		if err != nil {
			return err
		}
		defer closeBoth()
		v, err := findVideo(ctx, store, *video, logger)
		if err != nil {
			return fmt.Errorf("video %d: %w", *video, err)
		}
		return export.WebAnnotations(stdout, webCollection(*base, v), export.VideoItems(ctx, db, v.ID))
	default:
		fs.Usage()
		return fmt.Errorf("unknown audit %s", strconv.Quote(pos[0]))
	}
}

// webCollection names a video's Web Annotation export under base, the way
// the HTTP API does.
func webCollection(base string, v catalog.Video) export.Collection {
	vid := strconv.FormatInt(v.ID, 10)
	return export.Collection{
		ID:    base + "/api/videos/" + vid + "/annotations.jsonld",
		Label: v.Title,
		Video: v.URL,
		AnnotationIRI: func(id int64) string {
			return base + "/api/videos/" + vid + "/annotations/" + strconv.FormatInt(id, 10)
		},
		UserIRI: func(id int64) string { return base + "/users/" + strconv.FormatInt(id, 10) },
	}
}

// anchorList is the repeatable --anchor flag.
type anchorList []audit.Anchor

func (l *anchorList) String() string { return fmt.Sprint([]audit.Anchor(*l)) }

func (l *anchorList) Set(s string) error {
	a, err := audit.ParseAnchor(s)
	if err != nil {
		return err
	}
	*l = append(*l, a)
	return nil
}
