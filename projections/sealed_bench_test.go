package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
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
// 100 videos, each with a socket's metadata) with their names, texts and
// client addresses sealed or not, and returns the log and the keys that
// open it.
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
			// The metadata a socket's post carries: its client address
			// is sealed too.
			meta, err := sealer.SealMetadata(ctx, user, eventstore.Metadata{UserID: fmt.Sprint(user), ConnectionID: eventstore.NewID(), ClientAddr: "198.51.100.23", CorrelationID: eventstore.NewID()})
			if err != nil {
				b.Fatal(err)
			}
			evs[j] = eventstore.EventData{Type: domain.TypeAnnotationPosted, Data: mustJSON(domain.AnnotationPosted{UserID: user, Username: name, Body: body, At: int64(j)}), Metadata: meta.Encode()}
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
		b.Run("catchup", func(b *testing.B) {
			cpu0 := testenv.CPUTime()
			for range b.N {
				sub, err := log.SubscribeToAll(ctx, eventstore.Start(), eventstore.SubscribeOptions{PageSize: 4096, Buffer: 8192})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for m := range sub.Messages() {
					if m.CaughtUp {
						break
					}
					n++
				}
				sub.Close()
				if n != 100_000 {
					b.Fatalf("delivered %d events", n)
				}
			}
			b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(100_000*float64(b.N)/(testenv.CPUTime()-cpu0).Seconds(), "events/cpu-s")
		})
		// fold is what a video's hub does when it loads a video (and
		// what the socket's catch-up reads from): each event decoded and
		// its name and text opened.
		b.Run("fold", func(b *testing.B) {
			cpu0 := testenv.CPUTime()
			for range b.N {
				n := 0
				err := eventstore.ScanAll(ctx, log, 1, 100_000, func(ev *eventstore.RecordedEvent) error {
					var e domain.AnnotationPosted
					if err := json.Unmarshal(ev.Data, &e); err != nil {
						return err
					}
					var err error
					if e.Username, err = keys.Open(ctx, e.UserID, personal.Username, e.Username); err != nil {
						return err
					}
					if e.Body, err = keys.Open(ctx, e.UserID, personal.Body, e.Body); err != nil {
						return err
					}
					if len(e.Body) != 100 {
						return fmt.Errorf("body %q", e.Body)
					}
					n++
					return nil
				})
				if err != nil || n != 100_000 {
					b.Fatal(n, err)
				}
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
		modelsDir := filepath.Join(b.TempDir(), "q")
		db, err := Open(modelsDir, DBConfig{Keys: keys}, nil)
		if err != nil {
			b.Fatal(err)
		}
		rebuild(b, db, log, Builtin(), Config{})
		b.Run("bytes", func(b *testing.B) {
			// Not timed: what the log and the read models hold per event,
			// once flushed.
			for range b.N {
			}
			if err := db.db.Flush(); err != nil {
				b.Fatal(err)
			}
			data := 0
			if err := eventstore.ScanAll(ctx, log, 1, 100_000, func(ev *eventstore.RecordedEvent) error { data += len(ev.Data) + len(ev.Metadata); return nil }); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(data)/100_000, "data-B/event")
			b.ReportMetric(float64(dirBytes(b, modelsDir))/100_000, "models-B/event")
		})
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

// dirBytes is the size of the files under dir.
func dirBytes(b *testing.B, dir string) int64 {
	b.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		n += fi.Size()
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
