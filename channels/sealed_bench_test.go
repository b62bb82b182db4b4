package channels_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/internal/testenv"
	"github.com/videologue/videologue/personal"
	pkeys "github.com/videologue/videologue/personal/pebble"
)

// BenchmarkSealedCatchUp compares, on a video of 20,000 annotations
// (100-byte texts, 100 users) written in plaintext and sealed, a
// viewer's catch-up from nothing on a node that has not loaded the video:
// the hub folds the video from the log, opening each name and text, and
// the viewer is sent every annotation, until caught_up.
func BenchmarkSealedCatchUp(b *testing.B) {
	for _, mode := range []string{"plain", "sealed"} {
		b.Run(mode, func(b *testing.B) { benchSealedCatchUp(b, mode == "sealed") })
	}
}

func benchSealedCatchUp(b *testing.B, sealed bool) {
	const n = 20_000
	var keys *personal.Keyring
	if sealed {
		ks, err := pkeys.Open(filepath.Join(b.TempDir(), "keys"), slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ks.Close() })
		dk, _ := personal.DataKey("bench")
		keys, _ = personal.NewKeyring(ks, dk)
	}
	e := newEnv(b, permissive(), func(e *env) { e.keys = keys })
	uid, _, tok := e.user("viewer")
	vid := e.video(uid)
	ctx := b.Context()
	text := strings.Repeat("the speaker shows a chart of latency here and then argues that queue depth matters ", 2)[:100]
	for from := 0; from < n; from += 1000 {
		evs := make([]eventstore.EventData, 1000)
		for j := range evs {
			user := int64((from+j)%100 + 1000)
			name, _ := keys.Seal(ctx, user, personal.Username, fmt.Sprintf("user%d", user))
			body, _ := keys.Seal(ctx, user, personal.Body, text)
			meta, err := keys.SealMetadata(ctx, user, eventstore.Metadata{UserID: fmt.Sprint(user), ConnectionID: eventstore.NewID(), ClientAddr: "198.51.100.23", CorrelationID: eventstore.NewID()})
			if err != nil {
				b.Fatal(err)
			}
			data, _ := json.Marshal(domain.AnnotationPosted{UserID: user, Username: name, Body: body, At: int64(j)})
			evs[j] = eventstore.EventData{Type: domain.TypeAnnotationPosted, Data: data, Metadata: meta.Encode()}
		}
		if _, err := e.store.Append(ctx, domain.VideoStream(vid), eventstore.Any, evs...); err != nil {
			b.Fatal(err)
		}
	}
	topic := "videos:" + itoa(vid)
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		e.restart() // a node that has not loaded the video
		b.StartTimer()
		cpu0 := testenv.CPUTime()
		c := e.dial(tok)
		from := c.count()
		c.mustJoin(topic, map[string]any{})
		c.await(from, time.Minute, "caught_up", func(f frame) bool { return f.Topic == topic && f.Event == "caught_up" })
		cpu += testenv.CPUTime() - cpu0
		b.StopTimer()
		if got := len(c.annotations(topic)); got != n {
			b.Fatalf("caught up with %d annotations, want %d", got, n)
		}
		c.close()
		b.StartTimer()
	}
	b.ReportMetric(n*float64(b.N)/b.Elapsed().Seconds(), "annotations/s")
	b.ReportMetric(n*float64(b.N)/cpu.Seconds(), "annotations/cpu-s")
}
