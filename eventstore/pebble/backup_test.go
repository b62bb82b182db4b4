package pebble_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// A backup taken while appends go on opens on its own, and holds every
// event acknowledged before it began, hash chain included.
func TestBackupWhileAppending(t *testing.T) {
	ctx := context.Background()
	s := openBench(t, t.TempDir())
	defer s.Close()
	var acked atomic.Uint64 // the highest position acknowledged
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				res, err := s.Append(ctx, fmt.Sprintf("s-%d", w), eventstore.Any, eventstore.EventData{Type: "t", Data: []byte(fmt.Sprintf(`{"i":%d}`, i))})
				if err != nil {
					t.Error(err)
					return
				}
				for {
					cur := acked.Load()
					if res.LastPosition <= cur || acked.CompareAndSwap(cur, res.LastPosition) {
						break
					}
				}
			}
		})
	}
	for acked.Load() < 500 && !t.Failed() {
		time.Sleep(time.Millisecond)
	}
	before := acked.Load()
	dir := filepath.Join(t.TempDir(), "backup")
	err := s.Backup(dir)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "VIDEOLOGUE-HEAD")); !os.IsNotExist(err) {
		t.Fatalf("the backup holds the live durable head: %v", err)
	}
	want, err := s.ReadAll(ctx, eventstore.Forwards, 1, int(before))
	if err != nil {
		t.Fatal(err)
	}
	b := openBench(t, dir)
	defer b.Close()
	got, err := b.ReadAll(ctx, eventstore.Forwards, 1, int(before))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != int(before) || len(want) != int(before) {
		t.Fatalf("backup holds %d of the %d events acknowledged before it (live log: %d)", len(got), before, len(want))
	}
	for i := range got {
		if got[i].Position != want[i].Position || got[i].Hash != want[i].Hash || string(got[i].Data) != string(want[i].Data) {
			t.Fatalf("event %d differs: %+v, live %+v", i, got[i], want[i])
		}
	}
	if err := s.Backup(dir); err == nil {
		t.Fatal("a backup over an existing directory succeeded")
	}
}
