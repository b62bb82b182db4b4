package projections

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/personal"
	pkeys "github.com/videologue/videologue/personal/pebble"
)

// BenchmarkEraseUser: a user with 10,000 annotations across 100 videos
// is erased; the time is from the erasure's start until no video's
// annotations answer with their text (every one reads "[erased]").
func BenchmarkEraseUser(b *testing.B) {
	const videos, perVideo, user = 100, 100, 7
	ctx := context.Background()
	for i := range b.N {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
		ks, err := pkeys.Open(filepath.Join(dir, "keys"), slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		dk, _ := personal.DataKey("bench")
		keys, _ := personal.NewKeyring(ks, dk)
		log := openStore(b, filepath.Join(dir, "log"))
		db, err := Open(filepath.Join(dir, "readmodels"), DBConfig{Keys: keys}, nil)
		if err != nil {
			b.Fatal(err)
		}
		for v := 1; v <= videos; v++ {
			evs := make([]eventstore.EventData, perVideo)
			for j := range evs {
				name, _ := keys.Seal(ctx, user, personal.Username, "erasable")
				body, _ := keys.Seal(ctx, user, personal.Body, fmt.Sprintf("text %d of video %d", j, v))
				evs[j] = eventstore.EventData{Type: domain.TypeAnnotationPosted, Data: mustJSON(domain.AnnotationPosted{UserID: user, Username: name, Body: body, At: int64(j)})}
			}
			if _, err := log.Append(ctx, domain.VideoStream(int64(v)), eventstore.Any, evs...); err != nil {
				b.Fatal(err)
			}
		}
		rebuild(b, db, log, Builtin(), Config{})
		b.StartTimer()
		if _, err := log.Append(ctx, domain.UsersStream, eventstore.Any, eventstore.EventData{Type: domain.TypeUserErased, Data: mustJSON(domain.UserErased{UserID: user, By: user})}); err != nil {
			b.Fatal(err)
		}
		if err := keys.Erase(ctx, user); err != nil {
			b.Fatal(err)
		}
		n := 0
		for v := 1; v <= videos; v++ {
			err := db.Annotations(ctx, int64(v), func(a Annotation) error {
				if a.Body != personal.ErasedText || strings.Contains(a.Username, "erasable") {
					return fmt.Errorf("annotation %d of video %d still reads %q by %q", a.ID, v, a.Body, a.Username)
				}
				n++
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if n != videos*perVideo {
			b.Fatalf("%d annotations answered, want %d", n, videos*perVideo)
		}
		db.Close()
		log.Close()
		ks.Close()
		b.StartTimer()
	}
}
