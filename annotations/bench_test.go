package annotations_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/personal"
	pkeys "github.com/videologue/videologue/personal/pebble"
)

// BenchmarkPost: writers posting 200-byte annotations, each waiting for
// durability before the next, on the embedded log, with the text, name
// and address sealed with the author's key (sealed) or not (plain).
func BenchmarkPost(b *testing.B) {
	body := strings.Repeat("a", 200)
	for _, mode := range []string{"plain", "sealed"} {
		for _, writers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode, writers), func(b *testing.B) {
				dir := b.TempDir()
				st, err := pebble.Open(filepath.Join(dir, "log"), pebble.Config{}, slog.New(slog.DiscardHandler))
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				var keys *personal.Keyring
				if mode == "sealed" {
					ks, err := pkeys.Open(filepath.Join(dir, "keys"), slog.New(slog.DiscardHandler))
					if err != nil {
						b.Fatal(err)
					}
					defer ks.Close()
					dk, _ := personal.DataKey("bench")
					keys, _ = personal.NewKeyring(ks, dk)
				}
				s := annotations.New(st, nil, keys)
				ctx := context.Background()
				meta := eventstore.Metadata{ClientAddr: "203.0.113.9", UserID: "1"}
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for w := range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						user := int64(w%16 + 1)
						for next.Add(1) <= int64(b.N) {
							if _, err := s.Post(ctx, int64(w+1), user, "someone", body, 0, meta); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
