package channels

// Observer is told what the socket does, for metrics. Its methods are
// called from many goroutines, some while a hub's lock is held: they must
// be fast, safe for concurrent use, and never call back into the server.
type Observer interface {
	// Broadcast: one event of a video was enqueued to n subscriptions.
	Broadcast(n int)
	// QueueDropped: a connection was disconnected for a full queue.
	QueueDropped()
}

type nopObserver struct{}

func (nopObserver) Broadcast(int) {}
func (nopObserver) QueueDropped() {}
