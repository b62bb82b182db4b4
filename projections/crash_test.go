package projections

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// The crash tests kill a child process (this test binary, running
// TestCrashChild) with SIGKILL while it applies the log, then reopen the
// read models: every checkpoint must match its model exactly, so that
// finishing the job gives the same records as an uninterrupted rebuild.

const crashChildEnv = "PROJECTIONS_CRASH_CHILD"

// progress wraps a projection and prints the position it applies, every
// 50 events, for the parent to time its kill.
type progress struct {
	Projection
	n atomic.Int64
}

func (p *progress) Apply(w *Writer, ev *Event) error {
	if p.n.Add(1)%50 == 0 {
		fmt.Printf("applying %d\n", ev.Position)
	}
	return p.Projection.Apply(w, ev)
}

func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashChildEnv)
	if spec == "" {
		t.Skip("helper process of the crash tests")
	}
	mode, dir, _ := strings.Cut(spec, ":")
	log := openStore(t, filepath.Join(dir, "log"))
	db := openDB(t, filepath.Join(dir, "readmodels"))
	ps := Builtin()
	ps[0] = &progress{Projection: ps[0]}
	ctx := context.Background()
	switch mode {
	case "runner":
		newEngine(t, db, log, ps, Config{PageEvents: 50}).Run(ctx) // until killed
	case "catchup":
		newEngine(t, db, log, ps, Config{BatchEvents: 300}).CatchUp(ctx)
	case "rebuild": // each child starts over
		newEngine(t, db, log, ps, Config{BatchEvents: 200}).Rebuild(ctx)
	}
	fmt.Println("finished")
	select {}
}

func TestCrashMidStreamLosesAndRepeatsNothing(t *testing.T) {
	for _, mode := range []string{"runner", "catchup", "rebuild"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			log := openStore(t, filepath.Join(dir, "log"))
			loadLog(t, log, genHistory(10, 5, 3, 12000), 7)
			head := headOf(t, log)
			log.Close()
			kills := 0
			// Kills at a fifth, two, three and four fifths of the log: the
			// last leaves a fifth to do, far more than a child can apply
			// between reporting a position and receiving SIGKILL.
			for target := head / 5; target <= head*4/5; target += head / 5 {
				if killChildAt(t, mode, dir, target) {
					kills++
				}
			}
			if kills == 0 {
				t.Fatal("the child always finished before it could be killed")
			}
			log = openStore(t, filepath.Join(dir, "log"))
			defer log.Close()
			db := openDB(t, filepath.Join(dir, "readmodels"))
			defer db.Close()
			cp, err := db.Checkpoint(NameActivity)
			if err != nil || cp.Position == 0 || cp.Position >= head {
				t.Fatalf("after the kills the activity checkpoint is %d (%v); want some of %d", cp.Position, err, head)
			}
			r, stop := startRunner(t, db, log, Builtin(), Config{})
			waitFor(t, r, head)
			stop()
			checkAgainstReference(t, db, referenceFold(t, log))
			fresh := openDB(t, filepath.Join(dir, "fresh"))
			defer fresh.Close()
			rebuild(t, fresh, log, Builtin(), Config{})
			assertSameModels(t, db, fresh)
		})
	}
}

// killChildAt runs the child until it reports applying position target,
// then SIGKILLs it. It returns false if the child finished first.
func killChildAt(t *testing.T, mode, dir string, target uint64) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+mode+":"+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if line == "finished" {
			cmd.Process.Kill()
			return false
		}
		if pos, ok := strings.CutPrefix(line, "applying "); ok {
			if n, _ := strconv.ParseUint(pos, 10, 64); n >= target {
				cmd.Process.Kill()
				return true
			}
		}
	}
	t.Fatalf("child ended without finishing: %v", sc.Err())
	return false
}
