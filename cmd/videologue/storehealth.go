package main

import "github.com/videologue/videologue/eventstore"

// failingStore is a log that can stop being able to write while open:
// the embedded one, on a full disk or a damaged file. Health is nil while
// it can write; Failed is closed when it no longer can.
type failingStore interface {
	Health() error
	Failed() <-chan struct{}
}

// storeHealth is why s cannot write, or nil.
func storeHealth(s eventstore.Store) error {
	if f, ok := s.(failingStore); ok {
		return f.Health()
	}
	return nil
}

// storeFailed is closed when s stops being able to write; nil (never
// ready) for a log that reports no such state.
func storeFailed(s eventstore.Store) <-chan struct{} {
	if f, ok := s.(failingStore); ok {
		return f.Failed()
	}
	return nil
}
