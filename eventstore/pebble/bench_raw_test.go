package pebble_test

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"

	cpebble "github.com/cockroachdb/pebble/v2"
)

// BenchmarkRawPebble64 is the baseline for BenchmarkAppendConcurrent: 64
// goroutines committing one 200-byte key each with Sync straight into
// pebble, with no revisions, positions, hash chain or index. It is the
// ceiling the store's committer is measured against, in the same run.
func BenchmarkRawPebble64(b *testing.B) {
	db, err := cpebble.Open(b.TempDir(), &cpebble.Options{MemTableSize: 32 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var k [9]byte
			k[0] = 'e'
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				binary.BigEndian.PutUint64(k[1:], uint64(i))
				if err := db.Set(k[:], payload200, cpebble.Sync); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
