package projections

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/internal/testenv"
	"github.com/videologue/videologue/personal"
	pkeys "github.com/videologue/videologue/personal/pebble"
)

// sealedBenchLog writes 100,000 annotations (100-byte texts, 100 users,
// 100 videos) with their names and texts sealed or not, and returns the
// log and the keys that open it.
func sealedBenchLog(b *testing.B, sealed bool) (*pebble.Store, *personal.Keyring) {
	b.Helper()
	dir := b.TempDir()
	ks, err := pkeys.Open(filepath.Join(dir, "keys"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ks.Close() })
	dk, _ := personal.DataKey("bench")
	keys, _ := personal.NewKeyring(ks, dk)
	var sealer *personal.Keyring
	if sealed {
		sealer = keys
	}
	log := openStore(b, filepath.Join(dir, "log"))
	b.Cleanup(func() { log.Close() })
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for v := 1; v <= 100; v++ {
		evs := make([]eventstore.EventData, 1000)
		for j := range evs {
			user := int64(j%100 + 1)
			name, _ := sealer.Seal(ctx, user, personal.Username, fmt.Sprintf("user%d", user))
			body, _ := sealer.Seal(ctx, user, personal.Body, benchText(rng, j))
			evs[j] = eventstore.EventData{Type: domain.TypeAnnotationPosted, Data: mustJSON(domain.AnnotationPosted{UserID: user, Username: name, Body: body, At: int64(j)})}
		}
		if _, err := log.Append(ctx, domain.VideoStream(int64(v)), eventstore.Any, evs...); err != nil {
			b.Fatal(err)
		}
	}
	return log, sealer
}

// benchText is 100 bytes of text that compresses as prose does, roughly:
// words from a small vocabulary, not one letter over and over, which
// would flatter the plaintext log (ciphertext does not compress).
func benchText(rng *rand.Rand, j int) string {
	words := [...]string{"the", "speaker", "shows", "a", "chart", "of", "latency", "here", "and", "then", "argues", "that", "queue", "depth", "matters", "more", "than", "cores", "watch", "left"}
	var sb strings.Builder
	for sb.Len() < 100 {
		sb.WriteString(words[rng.IntN(len(words))])
		sb.WriteByte(' ')
	}
	return sb.String()[:100]
}

// BenchmarkSealedReads compares, on logs of plaintext and of sealed
// annotations: a rebuild of the read models (catch-up: the log read and
// decoded, nothing opened), a walk of the whole log, and an analyst's
// query of one video's 1,000 annotations (each name and text opened).
func BenchmarkSealedReads(b *testing.B) {
	for _, mode := range []string{"plain", "sealed"} {
		b.Run(mode, func(b *testing.B) { benchSealedReads(b, mode == "sealed") })
	}
}

func benchSealedReads(b *testing.B, sealed bool) {
	ctx := context.Background()
	log, keys := sealedBenchLog(b, sealed)
	{
		b.Run("rebuild", func(b *testing.B) {
			cpu0 := testenv.CPUTime()
			for i := range b.N {
				db, err := Open(filepath.Join(b.TempDir(), fmt.Sprint(i)), DBConfig{Keys: keys}, nil)
				if err != nil {
					b.Fatal(err)
				}
				rebuild(b, db, log, Builtin(), Config{})
				db.Close()
			}
			b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(100_000*float64(b.N)/(testenv.CPUTime()-cpu0).Seconds(), "events/cpu-s")
		})
		b.Run("scan", func(b *testing.B) {
			cpu0 := testenv.CPUTime()
			for range b.N {
				n := 0
				if err := eventstore.ScanAll(ctx, log, 1, 100_000, func(*eventstore.RecordedEvent) error { n++; return nil }); err != nil || n != 100_000 {
					b.Fatal(n, err)
				}
			}
			b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(100_000*float64(b.N)/(testenv.CPUTime()-cpu0).Seconds(), "events/cpu-s")
		})
		db, err := Open(filepath.Join(b.TempDir(), "q"), DBConfig{Keys: keys}, nil)
		if err != nil {
			b.Fatal(err)
		}
		rebuild(b, db, log, Builtin(), Config{})
		b.Run("query", func(b *testing.B) {
			cpu0 := testenv.CPUTime()
			for range b.N {
				n := 0
				if err := db.Annotations(ctx, 7, func(a Annotation) error {
					if len(a.Body) != 100 {
						return fmt.Errorf("body %q", a.Body)
					}
					n++
					return nil
				}); err != nil || n != 1000 {
					b.Fatal(n, err)
				}
			}
			b.ReportMetric(1000*float64(b.N)/b.Elapsed().Seconds(), "annotations/s")
			b.ReportMetric(1000*float64(b.N)/(testenv.CPUTime()-cpu0).Seconds(), "annotations/cpu-s")
		})
		db.Close()
	}
}
