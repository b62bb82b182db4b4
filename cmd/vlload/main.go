// Command vlload puts a Videologue server under load over the Phoenix
// Channels protocol and reports what its viewers experienced.
//
// It signs in N users through the JSON API, connects each to one video,
// posts M annotations at a given rate from a few posters, and reports
// connect+join time, deliveries per second, post-to-receipt latency, server
// RSS per connection (with --server-pid, from /proc), and per client gaps or
// duplicates: each client must receive exactly the posted ids, in order.
//
// The server must run with `videologue serve --load-test` (dev only), which
// lifts the per-user and per-address rate limits. See docs/BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

// config is what vlload is told on its command line.
type config struct {
	url       string
	users     int
	posters   int
	posts     int
	rate      float64 // annotations per second in all; 0: as fast as the server answers
	window    int     // unanswered posts per poster when rate is 0
	serverPID int
	connects  int // concurrent connects+joins
	drain     time.Duration
	idle      time.Duration
	spin      time.Duration // see loop.serve
	catchUp   int           // clients that catch up on video from nothing (see runCatchUp); 0: the delivery run
	video     int64
	expect    int
	storm     int     // viewers that drop together and rejoin at once (see runStorm); 0: the delivery run
	stormPost int     // annotations posted while they are away
	killPID   int     // a node to SIGKILL halfway through the posts (see killer)
	killNode  int     // its index in --url
	reactRate float64 // reactions per second in all during the delivery run (see reactions.go); 0: none
	reactors  int
	settle    time.Duration // before posting, wait at most this long for the joins' presence to stop arriving
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("vlload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:4000", "base URL of the server; in the delivery run, comma-separated URLs of several nodes sharing a store: viewer and poster i use node i mod their number")
	fs.IntVar(&c.users, "users", 2000, "viewers to sign in, connect and join (N)")
	fs.IntVar(&c.posters, "posters", 4, "connections that post (extra sockets of the first users)")
	fs.IntVar(&c.posts, "posts", 1000, "annotations to post in all (M)")
	fs.Float64Var(&c.rate, "rate", 100, "annotations per second in all; 0 posts as fast as the server answers (saturation)")
	fs.IntVar(&c.window, "window", 16, "with --rate 0: posts each poster keeps in flight")
	fs.IntVar(&c.serverPID, "server-pid", 0, "pid of the server, to report its RSS per connection (Linux /proc)")
	fs.IntVar(&c.connects, "connects", 2000, "connects+joins in flight at once")
	fs.DurationVar(&c.drain, "drain", 10*time.Second, "how long to wait for the last deliveries after the last post")
	fs.DurationVar(&c.idle, "idle", 2*time.Second, "how long the joined connections stay idle before the server's RSS is read (it is also read after 2 s when this is longer)")
	fs.DurationVar(&c.spin, "spin", 2*time.Millisecond, "with --rate above 0, how long the viewers' receiver polls its idle sockets before it sleeps: over loopback the server's write pays for waking a sleeping receiver, which clients on other machines would not cost it (0: sleep at once)")
	fs.IntVar(&c.catchUp, "catchup", 0, "instead of the delivery run: this many new users join --video at once from nothing and read until caught_up; reports annotations, largest frame, time to caught_up and the server's RSS")
	fs.Int64Var(&c.video, "video", 0, "with --catchup: the video to join (give it a history first, see cmd/vlseed)")
	fs.IntVar(&c.expect, "expect", 0, "with --catchup: the annotations each client must receive (0: not checked)")
	fs.IntVar(&c.storm, "storm", 0, "instead of the delivery run: this many new users join a video (--video, or a new one), drop together, --storm-posts annotations are posted, and all rejoin at once with their last_seen_id/last_seen_rev; reports how many end exact and the time to the last caught_up")
	fs.IntVar(&c.stormPost, "storm-posts", 5000, "with --storm: the annotations posted while the viewers are away")
	fs.IntVar(&c.killPID, "kill-pid", 0, "in the delivery run: SIGKILL this process, the node --kill-node of --url, once half the posts are due; its viewers rejoin on the other nodes with the last id they saw and must end exact")
	fs.IntVar(&c.killNode, "kill-node", 0, "with --kill-pid: the index in --url of the node killed")
	fs.Float64Var(&c.reactRate, "reactions-rate", 0, "reactions per second in all while the posts last (needs --rate above 0); each sets or clears a reaction on the newest annotation")
	fs.DurationVar(&c.settle, "settle", 0, "in the delivery run, before posting: wait until no viewer has received a presence frame for 1 s, at most this long, so that the latencies are of posts, not of posts queued behind the joins' presence (0: post at once)")
	fs.IntVar(&c.reactors, "reactors", 8, "with --reactions-rate: the users that react, one connection each")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.killPID > 0 && (c.storm > 0 || c.catchUp > 0 || c.rate <= 0 || len(c.nodes()) < 2 || c.killNode < 0 || c.killNode >= len(c.nodes())) {
		return c, errors.New("--kill-pid needs the delivery run with --rate above 0, two or more nodes in --url, and --kill-node one of their indexes")
	}
	if c.storm > 0 {
		if c.stormPost < 1 || c.posters < 1 || c.window < 1 || c.connects < 1 {
			return c, errors.New("--storm needs --storm-posts >= 1, --posters >= 1, --window >= 1, --connects >= 1")
		}
		return c, nil
	}
	if c.catchUp > 0 {
		if c.video <= 0 {
			return c, errors.New("--catchup needs --video")
		}
		return c, nil
	}
	if c.reactRate > 0 && (c.rate <= 0 || c.reactors < 1) {
		return c, errors.New("--reactions-rate needs --rate above 0 and --reactors >= 1")
	}
	if c.users < 1 || c.posters < 1 || c.posts < 1 || c.posters > c.users || c.window < 1 || c.connects < 1 {
		return c, errors.New("need --users >= --posters >= 1, --posts >= 1, --window >= 1, --connects >= 1")
	}
	return c, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	do := run
	if cfg.catchUp > 0 {
		do = runCatchUp
	}
	if cfg.storm > 0 {
		do = runStorm
	}
	if err := do(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vlload:", err)
		os.Exit(1)
	}
}
