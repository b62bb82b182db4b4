package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/videologue/videologue/eventstore"
)

const (
	// envCrashDir and envCrashRound tell a crash child where the store is
	// and which round it is in; their presence makes a process a child.
	envCrashDir   = "VIDEOLOGUE_CRASH_DIR"
	envCrashRound = "VIDEOLOGUE_CRASH_ROUND"
	// ackFD is the child's end of the pipe that carries its acks: the first
	// of exec.Cmd.ExtraFiles. Stdout is left to the test framework and to
	// whatever the store logs.
	ackFD = 3

	crashWriters = 32
	crashStreams = 4 // shared streams, besides each writer's own
	crashType    = "crash_appended.v1"
)

// crashBatch is one append of the crash workload. Its stream, size and
// content derive from (round, writer, seq) alone, so the parent knows what
// every stored event must hold.
type crashBatch struct{ round, writer, seq int }

func (b crashBatch) id() string { return fmt.Sprintf("r%d-w%d-s%d", b.round, b.writer, b.seq) }

// own tells whether the batch goes to the writer's own stream, appended
// with Exact: a store that recovers a stream's revision wrongly fails there.
func (b crashBatch) own() bool { return b.seq%4 == 3 }

func (b crashBatch) stream() string {
	if b.own() {
		return fmt.Sprintf("crash-own-%d", b.writer)
	}
	return fmt.Sprintf("crash-%d", (b.writer+b.seq)%crashStreams)
}

func (b crashBatch) size() int { return 1 + (b.writer*7+b.seq*3)%3 }

// crashData is the data of a crash event: where it comes from, its place
// in its batch, and padding of varying length so that records differ in
// size and a torn one cannot pass for whole.
type crashData struct {
	Round  int    `json:"round"`
	Writer int    `json:"writer"`
	Seq    int    `json:"seq"`
	I      int    `json:"i"`
	N      int    `json:"n"`
	Pad    string `json:"pad"`
}

func (b crashBatch) events() []eventstore.EventData {
	n := b.size()
	evs := make([]eventstore.EventData, n)
	for i := range evs {
		id := fmt.Sprintf("%s-%d", b.id(), i)
		data, err := json.Marshal(crashData{b.round, b.writer, b.seq, i, n, padding(id, (b.writer*131+b.seq*17+i*7)%1500)})
		if err != nil {
			panic(err) // a struct of ints and a hex string always marshals
		}
		evs[i] = eventstore.EventData{
			ID: id, Type: crashType, Data: data,
			Metadata: eventstore.Metadata{CorrelationID: b.id(), CausationID: id}.Encode(),
		}
	}
	return evs
}

// padding returns n hex digits derived from seed.
func padding(seed string, n int) string {
	b := make([]byte, 0, n+64)
	h := sha256.Sum256([]byte(seed))
	for len(b) < n {
		b = hex.AppendEncode(b, h[:])
		h = sha256.Sum256(h[:])
	}
	return string(b[:n])
}

// CrashChild is the child half of RunCrash. Call it first thing in the test
// that CrashConfig.ChildTestName names, or in TestMain before m.Run. In a
// process that RunCrash did not start it returns at once, so the test
// passes having done nothing. In a crash child it opens the store with open
// and appends from many goroutines, acknowledging each append to the
// parent, until the parent kills it; it never returns.
func CrashChild(open func(dir string) (eventstore.Store, error)) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		return
	}
	round, err := strconv.Atoi(os.Getenv(envCrashRound))
	acks := os.NewFile(ackFD, "acks")
	if err != nil || acks == nil {
		fmt.Fprintf(os.Stderr, "crash child: bad round %q or no pipe on fd %d\n", os.Getenv(envCrashRound), ackFD)
		os.Exit(2)
	}
	os.Exit(crashChild(dir, round, open, acks))
}

// crashChild runs the child's workload and returns its exit code when it
// fails; success is being killed.
func crashChild(dir string, round int, open func(string) (eventstore.Store, error), acks io.Writer) int {
	// The child process has no caller: this is its main.
	ctx := context.Background()
	var mu sync.Mutex
	say := func(s string) bool {
		mu.Lock()
		defer mu.Unlock()
		_, err := io.WriteString(acks, s) // one write per append: a pipe keeps it whole
		return err == nil
	}
	s, err := open(dir)
	if err != nil {
		say("error open: " + oneLine(err) + "\n")
		return 2
	}
	if !say("ready\n") {
		return 3
	}
	failed := make(chan int, crashWriters)
	for w := range crashWriters {
		go func() { failed <- crashWriter(ctx, s, round, w, say) }()
	}
	select {
	case code := <-failed:
		return code
	case <-time.After(2 * time.Minute): // the parent forgot us
		return 4
	}
}

// crashWriter appends batches until an append fails (1) or the parent
// stops listening (0).
func crashWriter(ctx context.Context, s eventstore.Store, round, w int, say func(string) bool) int {
	own := crashBatch{round, w, 3}.stream()
	last, err := s.ReadStream(ctx, own, eventstore.Backwards, eventstore.End, 1)
	if err != nil {
		say(fmt.Sprintf("error writer %d: reading %s: %s\n", w, own, oneLine(err)))
		return 1
	}
	ownExp := eventstore.NoStream
	if len(last) > 0 {
		ownExp = eventstore.Exact(last[0].Revision)
	}
	var sb strings.Builder
	for seq := 0; ; seq++ {
		b := crashBatch{round, w, seq}
		evs := b.events()
		exp := eventstore.Any
		if b.own() {
			exp = ownExp
		}
		res, err := s.Append(ctx, b.stream(), exp, evs...)
		if err != nil {
			say(fmt.Sprintf("error batch %s: Append(%s, %s): %s\n", b.id(), b.stream(), exp, oneLine(err)))
			return 1
		}
		if b.own() {
			ownExp = eventstore.Exact(res.NextExpected)
		}
		sb.Reset()
		for i := range evs {
			rev := res.NextExpected + 1 - uint64(len(evs)-i)
			fmt.Fprintf(&sb, "ack %s %d %d %s\n", b.stream(), rev, res.FirstPosition+uint64(i), evs[i].ID)
		}
		if !say(sb.String()) {
			return 0
		}
	}
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
