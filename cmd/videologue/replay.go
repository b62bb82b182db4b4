package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/videologue/videologue/export"
	"github.com/videologue/videologue/internal/timearg"
	"github.com/videologue/videologue/stats"
)

func replayCommand() command {
	return command{name: "replay", summary: "a video's history for analysts: timeline, state (as of --at), stats, viewings, annotations", run: runReplay}
}

// replayFlags select a video and a window.
type replayFlags struct {
	logFlags
	Video    int64
	From, To string
	At       string
	Step     time.Duration
	Format   string
}

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: videologue replay WHAT --video ID [flags]

  timeline      every event of the video in [--from, --to), in order, with its server time
  state         the annotations (with their text then) and the viewers at --at
  stats         viewers over time, peak, annotations per second of video, viewings
  viewings      the viewings (a viewer watching from join to leave) overlapping the window
  annotations   the video's annotations now, in video-time order
  sessions      deprecated: the earlier name of viewings

Times are RFC 3339, a date, Unix seconds, now, or -2h (before now).

Flags:`)
		fs.PrintDefaults()
	}
	var c replayFlags
	addLogFlags(fs, &c.logFlags)
	fs.Int64Var(&c.Video, "video", 0, "video id")
	fs.StringVar(&c.From, "from", "", "start of the window (default: the video's first event)")
	fs.StringVar(&c.To, "to", "", "end of the window, exclusive (default: now)")
	fs.StringVar(&c.At, "at", "now", "the instant of state")
	fs.DurationVar(&c.Step, "step", 0, "resolution of the viewers series in stats (default: about 120 points)")
	fs.StringVar(&c.Format, "format", "ndjson", "ndjson or csv for timeline, viewings and annotations")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("say what to replay")
	}
	if c.Video <= 0 {
		return errors.New("--video is required")
	}
	now := time.Now()
	from, err := timearg.Parse(c.From, now)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	to, err := timearg.Parse(c.To, now)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	format, err := export.ParseFormat(c.Format)
	if err != nil {
		return err
	}
	logger := toolLogger(stderr)
	store, db, closeBoth, err := c.openBoth(ctx, stderr, logger)
	if err != nil {
		return err
	}
	defer closeBoth()
	if _, err := findVideo(ctx, store, c.Video, logger); err != nil {
		return fmt.Errorf("video %d: %w", c.Video, err)
	}
	switch pos[0] {
	case "timeline":
		w := export.Entries(stdout, format)
		if err := db.Timeline(ctx, c.Video, from, to, w.Write); err != nil {
			return err
		}
		return w.Flush()
	case "viewings", "sessions": // sessions: the deprecated earlier name
		w := export.Viewings(stdout, format, now)
		if err := db.Viewings(ctx, c.Video, from, to, w.Write); err != nil {
			return err
		}
		return w.Flush()
	case "annotations":
		w := export.Annotations(stdout, format)
		if err := db.Annotations(ctx, c.Video, w.Write); err != nil {
			return err
		}
		return w.Flush()
	case "state":
		at, err := timearg.Parse(c.At, now)
		if err != nil {
			return fmt.Errorf("--at: %w", err)
		}
		st, err := db.StateAt(ctx, c.Video, at)
		if err != nil {
			return err
		}
		return writeIndented(stdout, st)
	case "stats":
		st, err := stats.Of(ctx, db, c.Video, from, to, c.Step, now)
		if err != nil {
			return err
		}
		return writeIndented(stdout, st)
	default:
		fs.Usage()
		return fmt.Errorf("unknown replay %s", strconv.Quote(pos[0]))
	}
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
