package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/videologue/videologue/catalog"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/personal"
	"github.com/videologue/videologue/projections"
)

func projectionsCommand() command {
	return command{name: "projections", summary: "rebuild the read models from the log (rebuild [NAME]), or show where they stand (status)", run: runProjections}
}

// logFlags are the flags of the tools that read the log and the read
// models. With the embedded log the server must be stopped: both
// databases are locked to one process.
type logFlags struct {
	Data       string
	ReadModels string
	Store      StoreConfig
}

func addLogFlags(fs *flag.FlagSet, c *logFlags) {
	fs.StringVar(&c.Data, "data", "./data", "directory of the embedded event log")
	fs.StringVar(&c.ReadModels, "readmodels", "", "directory of the read models (default <data>/readmodels)")
	addStoreFlags(fs, &c.Store)
}

func (c *logFlags) readModelsDir() string {
	if c.ReadModels != "" {
		return c.ReadModels
	}
	return filepath.Join(c.Data, "readmodels")
}

// toolLogCache is the block cache of the embedded log in the command-line
// tools. They read the log once, front to back (a rebuild, a verify, an
// export), where a block is not read twice: the server's large cache
// would only cost them memory, fresh to the process and so slow to get.
const toolLogCache = 8 << 20

// openLog opens the event log, which must exist: the tools never create
// one. Inside a server (a command through the admin socket) it is the
// server's log. When a server answers on the admin socket of the
// embedded log's directory, it returns an *errForward: the command is
// sent there.
func (c *logFlags) openLog(ctx context.Context, logger *slog.Logger) (eventstore.Store, error) {
	if env := serverFrom(ctx); env != nil {
		return borrowedStore{env.store}, nil
	}
	if err := c.Store.check(); err != nil {
		return nil, err
	}
	if c.Store.Kind == storeEmbedded {
		if sock, ok, err := serverAnswers(ctx, c.Data); err != nil {
			return nil, err
		} else if ok {
			return nil, &errForward{socket: sock}
		}
	}
	return c.openLogWith(ctx, pebble.Config{CacheBytes: toolLogCache, MustExist: true}, logger)
}

// openLogWith opens the event log, the embedded one with embedded.
func (c *logFlags) openLogWith(ctx context.Context, embedded pebble.Config, logger *slog.Logger) (eventstore.Store, error) {
	if serverFrom(ctx) != nil {
		return nil, errors.New("not while the server runs: stop it first")
	}
	if err := c.Store.check(); err != nil {
		return nil, err
	}
	s, err := openStoreWith(ctx, ServeConfig{Data: c.Data, Store: c.Store}, embedded, logger)
	if errors.Is(err, pebble.ErrInUse) {
		if sock, ok, _ := serverAnswers(ctx, c.Data); ok {
			return nil, fmt.Errorf("%w (the server answering on %s: stop it first)", err, sock)
		}
		return nil, fmt.Errorf("%w (another videologue process has it open, and no server answers on %s)", err, filepath.Join(c.Data, adminSocket))
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openReadModels opens the read models, not caught up. Inside a server
// they are the server's, and close does nothing.
func (c *logFlags) openReadModels(ctx context.Context, logger *slog.Logger) (*projections.DB, func() error, error) {
	return c.openReadModelsKeys(ctx, nil, logger)
}

// openReadModelsKeys is openReadModels whose queries open sealed values
// with keys.
func (c *logFlags) openReadModelsKeys(ctx context.Context, keys *personal.Keyring, logger *slog.Logger) (*projections.DB, func() error, error) {
	if env := serverFrom(ctx); env != nil {
		return env.readModels.DB, func() error { return nil }, nil
	}
	db, err := projections.Open(c.readModelsDir(), projections.DBConfig{Keys: keys}, logger)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (another videologue process has them open)", err)
	}
	return db, db.Close, nil
}

// openBoth opens the log and the read models, brought up to date with the
// log in batches; inside a server, it waits for the server's read models
// to reach the head of the log as it is now.
func (c *logFlags) openBoth(ctx context.Context, stderr io.Writer, logger *slog.Logger) (eventstore.Store, *projections.DB, func(), error) {
	store, err := c.openLog(ctx, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	if env := serverFrom(ctx); env != nil {
		head, err := logHead(ctx, store)
		if err == nil {
			err = env.readModels.WaitFor(ctx, head)
		}
		if err != nil {
			return nil, nil, nil, err
		}
		return store, env.readModels.DB, func() {}, nil
	}
	// Queries from the command line open what users wrote, as the
	// server's do.
	dataKey, err := dataKeyFromEnv(false)
	if err != nil {
		store.Close()
		return nil, nil, nil, err
	}
	keys, _, closeKeys, err := openKeyring(ctx, c.Data, c.Store, dataKey, logger)
	if err != nil {
		store.Close()
		return nil, nil, nil, err
	}
	db, closeDB, err := c.openReadModelsKeys(ctx, keys, logger)
	if err != nil {
		closeKeys()
		store.Close()
		return nil, nil, nil, err
	}
	closeBoth := func() {
		closeDB()
		store.Close()
		closeKeys()
	}
	bar := newProgress(stderr, "catching up")
	eng, err := projections.New(db, store, projections.Builtin(), projections.Config{Progress: bar.update}, logger)
	if err == nil {
		_, err = eng.CatchUp(ctx)
	}
	if err != nil {
		closeBoth()
		return nil, nil, nil, err
	}
	bar.done()
	return store, db, closeBoth, nil
}

// logHead is the position of the last event of the log (0: empty).
func logHead(ctx context.Context, store eventstore.Store) (uint64, error) {
	last, err := store.ReadAll(ctx, eventstore.Backwards, eventstore.End, 1)
	if err != nil || len(last) == 0 {
		return 0, err
	}
	return last[0].Position, nil
}

// findVideo returns video id from the catalog, folded from the log.
func findVideo(ctx context.Context, store eventstore.Store, id int64, logger *slog.Logger) (catalog.Video, error) {
	videos := catalog.New(store, nil, logger) // reads only: it seals nothing
	if err := videos.Start(ctx); err != nil {
		return catalog.Video{}, err
	}
	defer videos.Close()
	return videos.Get(ctx, id)
}

// parseArgs parses flags that may come before or after the positional
// arguments, and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func toolLogger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func runProjections(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("projections", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: videologue projections rebuild [NAME] [flags]   rebuild one read model (or all) from position 0\n       videologue projections status [flags]           each read model's checkpoint and lag\n\nRead models: "+strings.Join(projectionNames(), ", ")+"\n\nFlags:")
		fs.PrintDefaults()
	}
	var c logFlags
	addLogFlags(fs, &c)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errors.New("missing rebuild or status")
	}
	logger := toolLogger(stderr)
	switch pos[0] {
	case "rebuild":
		if len(pos) > 2 {
			return fmt.Errorf("unexpected arguments: %v", pos[2:])
		}
		ps, err := selectProjections(pos[1:])
		if err != nil {
			return err
		}
		return rebuild(ctx, &c, ps, stdout, stderr, logger)
	case "status":
		return status(ctx, &c, stdout, logger)
	default:
		fs.Usage()
		return fmt.Errorf("unknown projections command %q", pos[0])
	}
}

func projectionNames() []string {
	var names []string
	for _, p := range projections.Builtin() {
		names = append(names, p.Name())
	}
	return names
}

func selectProjections(names []string) ([]projections.Projection, error) {
	all := projections.Builtin()
	if len(names) == 0 {
		return all, nil
	}
	for _, p := range all {
		if p.Name() == names[0] {
			return []projections.Projection{p}, nil
		}
	}
	return nil, fmt.Errorf("%w %q: choose one of %s", projections.ErrUnknownProjection, names[0], strings.Join(projectionNames(), ", "))
}

func rebuild(ctx context.Context, c *logFlags, ps []projections.Projection, stdout, stderr io.Writer, logger *slog.Logger) error {
	store, err := c.openLog(ctx, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	var names []string
	for _, p := range ps {
		names = append(names, p.Name())
	}
	bar := newProgress(stderr, "rebuilding "+strings.Join(names, ", "))
	var res projections.Result
	if env := serverFrom(ctx); env != nil {
		res, err = env.readModels.Rebuild(ctx, ps, bar.update)
	} else {
		res, err = rebuildIn(ctx, c, store, ps, bar.update, logger)
	}
	if err != nil {
		return err
	}
	bar.done()
	rate := float64(res.Events) / max(res.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(stdout, "rebuilt %s from %d events in %s (%.0f events/s)\n", strings.Join(names, ", "), res.Events, res.Elapsed.Round(time.Millisecond), rate)
	for _, name := range names {
		if n := res.Poisoned[name]; n > 0 {
			fmt.Fprintf(stdout, "  %s: %d events could not be applied (see the poison records)\n", name, n)
		}
	}
	return nil
}

// rebuildIn rebuilds ps in the read models of c, which no server has
// open.
func rebuildIn(ctx context.Context, c *logFlags, store eventstore.Store, ps []projections.Projection, progress func(done, head uint64), logger *slog.Logger) (projections.Result, error) {
	// An interrupted rebuild resumes from its last batch committed
	// (projections catch up when next opened).
	db, closeDB, err := c.openReadModels(ctx, logger)
	if err != nil {
		return projections.Result{}, err
	}
	eng, err := projections.New(db, store, ps, projections.Config{Progress: progress}, logger)
	var res projections.Result
	if err == nil {
		res, err = eng.Rebuild(ctx)
	}
	if cerr := closeDB(); err == nil {
		err = cerr
	}
	return res, err
}

func status(ctx context.Context, c *logFlags, stdout io.Writer, logger *slog.Logger) error {
	store, err := c.openLog(ctx, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	db, closeDB, err := c.openReadModels(ctx, logger)
	if err != nil {
		return err
	}
	defer closeDB()
	head, err := logHead(ctx, store)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "log head: %d\n", head)
	for _, p := range projections.Builtin() {
		name := p.Name()
		cp, err := db.Checkpoint(name)
		if err != nil {
			return err
		}
		poisoned := 0
		if err := db.Poisoned(ctx, name, func(projections.Poisoned) error { poisoned++; return nil }); err != nil {
			return err
		}
		v, ok, err := db.Format(name)
		if err != nil {
			return err
		}
		format := fmt.Sprintf("format %d", v)
		switch {
		case !ok:
			format = "format unrecorded: rebuilt when next caught up"
		case v != p.Version():
			format += fmt.Sprintf(", this build writes %d: rebuilt when next caught up", p.Version())
		}
		fmt.Fprintf(stdout, "%-10s at %-10d behind %-10d poisoned %-6d %s\n", name, cp.Position, head-min(head, cp.Position), poisoned, format)
	}
	return nil
}

// progress draws a progress bar on a terminal line, at most ten times a
// second.
type progress struct {
	w     io.Writer
	label string
	start time.Time

	mu   sync.Mutex
	last time.Time
	drew bool
}

func newProgress(w io.Writer, label string) *progress {
	return &progress{w: w, label: label, start: time.Now()}
}

func (p *progress) update(done, total uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last, p.drew = now, true
	const width = 30
	frac := 1.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	n := int(frac * width)
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %d/%d events, %.0f/s ", p.label, strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, done, total, rate)
}

// done ends the bar's line, if one was drawn.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drew {
		fmt.Fprintln(p.w)
	}
}
