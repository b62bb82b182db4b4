package conformance

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// CrashConfig describes how to run a child process that appends to a store
// in dir until killed.
//
// RunCrash starts the test binary again as a child (os.Args[0]
// -test.run=^ChildTestName$) whose test calls CrashChild. The child opens
// the store and runs 32 appenders, each appending batches of 1 to 3 events
// to a few shared streams (expecting Any) and to its own stream (expecting
// Exact), and acknowledges every append on a pipe. The parent kills it with
// SIGKILL at a random moment, reopens the store with Open, checks it, and
// starts the next child on the same directory. SIGKILL loses what the
// process held, not what it handed to the kernel: this tests that an
// acknowledged append was written and that recovery is sound, not fsync.
type CrashConfig struct {
	// Open opens the store in dir, in the parent (the child uses the
	// function given to CrashChild, normally the same).
	Open func(dir string) (eventstore.Store, error)
	// ChildTestName is the test that calls CrashChild (default
	// "TestCrashChild").
	ChildTestName string
	// Kills is how many times a child is killed (default 20, at most 5
	// with -short).
	Kills int
	// MinDelay and MaxDelay bound how long a child appends before it is
	// killed (default 10ms and 300ms). Every fifth child is killed instead
	// within 50ms of starting, which may be while it opens the store.
	MinDelay, MaxDelay time.Duration
	// Dir holds the store (default a new t.TempDir()).
	Dir string
}

// RunCrash kills children that are appending to one store, again and
// again, and checks after each kill that every acknowledged event is there
// with its content, at its revision and position; that positions strictly
// increase and revisions are contiguous from 0; that no append survived in
// part; and, at the end, that the store appends where it left off.
func RunCrash(t *testing.T, cfg CrashConfig) {
	t.Helper()
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skipf("RunCrash needs child processes with an inherited pipe, which %s does not give", runtime.GOOS)
	}
	if cfg.Open == nil {
		t.Fatal("CrashConfig.Open is nil")
	}
	if cfg.ChildTestName == "" {
		cfg.ChildTestName = "TestCrashChild"
	}
	if cfg.Kills <= 0 {
		cfg.Kills = 20
	}
	if testing.Short() {
		cfg.Kills = min(cfg.Kills, 5)
	}
	if cfg.MinDelay <= 0 {
		cfg.MinDelay = 10 * time.Millisecond
	}
	if cfg.MaxDelay < cfg.MinDelay {
		cfg.MaxDelay = max(cfg.MinDelay, 300*time.Millisecond)
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	var c crashCheck
	early := 0
	for round := range cfg.Kills {
		acks, ready := crashRound(t, cfg, round, rng)
		c.acks = append(c.acks, acks...)
		if !ready {
			early++
		}
		s := openCrashed(t, cfg, round)
		c.check(t, s, round)
		if err := s.Close(); err != nil {
			t.Fatalf("Close after kill %d: %v", round, err)
		}
	}
	s := openCrashed(t, cfg, cfg.Kills)
	defer s.Close()
	c.check(t, s, cfg.Kills)
	appendAfterCrashes(t, s, c.log)
	t.Logf("%d kills (%d before the child was ready), %d events acknowledged, %d in the log (the others were written but not yet acknowledged when killed); seed %d",
		cfg.Kills, early, len(c.acks), len(c.log), seed)
}

func openCrashed(t *testing.T, cfg CrashConfig, round int) eventstore.Store {
	t.Helper()
	s, err := cfg.Open(cfg.Dir)
	if err != nil {
		t.Fatalf("reopening the store after kill %d: %v", round, err)
	}
	return s
}

// crashRound runs one child until it is killed and returns what it
// acknowledged, and whether it got as far as opening the store.
func crashRound(t *testing.T, cfg CrashConfig, round int, rng *rand.Rand) (acks []crashAck, ready bool) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^"+cfg.ChildTestName+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDir+"="+cfg.Dir, envCrashRound+"="+strconv.Itoa(round))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.ExtraFiles = []*os.File{w}
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatalf("starting crash child: %v", err)
	}
	started := time.Now()
	ch := readChild(r)
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the child is killed: its exit status is checked below
		close(exited)
	}()
	defer func() { _ = cmd.Process.Kill(); <-exited }() // for an early Fatal

	var delay time.Duration
	if round%5 == 4 {
		delay = time.Duration(rng.Int64N(int64(50*time.Millisecond))) - time.Since(started)
	} else {
		select {
		case <-ch.ready:
		case <-exited:
		case <-time.After(waitTimeout):
			t.Fatalf("crash child %d did not open the store within %v", round, waitTimeout)
		}
		delay = cfg.MinDelay + time.Duration(rng.Int64N(int64(cfg.MaxDelay-cfg.MinDelay)+1))
	}
	select {
	case <-exited:
	case <-time.After(delay):
	}
	_ = cmd.Process.Kill()
	<-exited
	<-ch.done
	if code := cmd.ProcessState.ExitCode(); code != -1 || len(ch.errs) > 0 || len(ch.bad) > 0 || bytes.Contains(out.Bytes(), []byte("DATA RACE")) {
		t.Fatalf("crash child %d (exit code %d, -1 if killed) failed:\n%s\n%s\noutput:\n%s",
			round, code, strings.Join(ch.errs, "\n"), strings.Join(ch.bad, "\n"), out.String())
	}
	select {
	case <-ch.ready:
		ready = true
	default:
	}
	return ch.acks, ready
}

// childReport is what a child said on its pipe; read it once done is
// closed.
type childReport struct {
	ready, done chan struct{}
	acks        []crashAck
	errs, bad   []string
}

func readChild(r *os.File) *childReport {
	ch := &childReport{ready: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(ch.done)
		br := bufio.NewReader(r)
		ready := false
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return // EOF: the child is dead. A partial last line was never sent whole.
			}
			f := strings.Fields(line)
			switch {
			case len(f) == 1 && f[0] == "ready" && !ready:
				ready = true
				close(ch.ready)
			case len(f) > 0 && f[0] == "error":
				ch.errs = append(ch.errs, strings.TrimSpace(line))
			case len(f) == 5 && f[0] == "ack":
				rev, err1 := strconv.ParseUint(f[2], 10, 64)
				pos, err2 := strconv.ParseUint(f[3], 10, 64)
				if err1 != nil || err2 != nil {
					ch.bad = append(ch.bad, "malformed ack: "+line)
					continue
				}
				ch.acks = append(ch.acks, crashAck{stream: f[1], rev: rev, pos: pos, id: f[4]})
			default:
				ch.bad = append(ch.bad, fmt.Sprintf("unexpected line %q", line))
			}
		}
	}()
	return ch
}
