// Package eventstore defines the contract of Videologue's event log: the single
// source of truth from which every read model, channel and audit trail derives.
//
// The contract mirrors KurrentDB's semantics so that each backend is thin:
// events are appended to named streams with optimistic concurrency, every
// event gets a revision in its stream (0, 1, 2, … without holes) and a global
// position in the whole log (strictly increasing, never reordered for a
// reader), and subscriptions deliver history, then an explicit caught-up
// signal, then live events, with no gap and no duplicate across the switch.
//
// Backends live in sub-packages named after what they use
// (eventstore/pebble, eventstore/postgres). Every backend is tested by the
// same conformance suite in eventstore/conformance.
package eventstore
