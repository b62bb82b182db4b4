package channels

// PeakQueuedBytes is the most bytes any connection of s, open or closed,
// has held for its client at once.
func PeakQueuedBytes(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	peak := s.peakQueued
	for c := range s.conns {
		c.qmu.Lock()
		peak = max(peak, c.peakBytes)
		c.qmu.Unlock()
	}
	return peak
}
