package channels_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/videologue/videologue/channels"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

// appendCounter is a channels.Store that counts the appends to each
// stream.
type appendCounter struct {
	channels.Store
	mu      sync.Mutex
	appends map[string]int
}

func (c *appendCounter) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	c.mu.Lock()
	c.appends[stream]++
	c.mu.Unlock()
	return c.Store.Append(ctx, stream, expected, events...)
}

// A dead node's viewers of one video leave in one append, whatever their
// number: on a shared store each append is a commit, and the time from a
// node's death to its viewers leaving the presence list must not grow
// with one round trip per viewer.
func TestSweepAppendsOnceAVideo(t *testing.T) {
	e := newEnv(t, permissive())
	owner, _, _ := e.user("owner")
	videos := []int64{e.video(owner), e.video(owner)}
	const viewers = 5
	for _, vid := range videos {
		for i := range viewers {
			// A run that left no NodeStarted: dead to any sweep.
			data, _ := json.Marshal(domain.ViewerJoined{UserID: owner, Username: "owner", ConnectionID: "c" + itoa(vid) + "-" + itoa(int64(i)), Node: "gone/20260101T000000-00000000", At: time.Now().UTC()})
			if _, err := e.store.Append(t.Context(), domain.ViewersStream(vid), eventstore.Any, eventstore.EventData{Type: domain.TypeViewerJoined, Data: data}); err != nil {
				t.Fatal(err)
			}
		}
	}
	counter := &appendCounter{Store: e.store, appends: map[string]int{}}
	// StartNode sweeps once before it returns; the hour-long interval
	// keeps the periodic sweep out of the count.
	n, err := channels.StartNode(t.Context(), counter, channels.NodeConfig{Name: "sweeper", HeartbeatInterval: time.Hour}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(context.WithoutCancel(t.Context())) })
	for _, vid := range videos {
		stream := domain.ViewersStream(vid)
		left := 0
		for _, ev := range e.readStream(stream) {
			if ev.Type == domain.TypeViewerLeft && strings.Contains(string(ev.Data), `"node_lost"`) {
				left++
			}
		}
		counter.mu.Lock()
		appends := counter.appends[stream]
		counter.mu.Unlock()
		if left != viewers || appends != 1 {
			t.Errorf("%s: %d viewings closed in %d appends, want %d in 1", stream, left, appends, viewers)
		}
	}
}
