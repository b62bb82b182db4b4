package eventstore

import "sync"

// Signal tells waiting subscriptions that the log has grown. A backend
// calls Advance after each commit becomes visible to readers; subscriptions
// take the channel from Wait before reading, so a commit that lands after
// their read always wakes them.
type Signal struct {
	mu   sync.Mutex
	ch   chan struct{}
	head uint64
}

// NewSignal returns a Signal whose head is the log's last position.
func NewSignal(head uint64) *Signal { return &Signal{ch: make(chan struct{}), head: head} }

// Advance records a new head and wakes every waiter. Heads below the
// current one are ignored.
func (s *Signal) Advance(head uint64) {
	s.mu.Lock()
	if head > s.head {
		s.head = head
	}
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

// Wait returns a channel that is closed at the next Advance, and the head
// known now.
func (s *Signal) Wait() (<-chan struct{}, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch, s.head
}

// Head is the last position known to be visible.
func (s *Signal) Head() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head
}
