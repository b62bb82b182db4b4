package eventstore

import (
	"bytes"
	"context"
	"strings"
)

// AllReader reads pages of the whole log, as Store.ReadAll does.
type AllReader interface {
	ReadAll(ctx context.Context, dir Direction, from uint64, limit int) ([]RecordedEvent, error)
}

// Scanner is a log that walks a run of the whole log without handing out
// a copy of each event. Readers of the whole log that keep nothing of an
// event past looking at it (verifying the hash chain, exporting, counting)
// go several times faster this way than through pages of ReadAll.
type Scanner interface {
	// ScanAll calls fn with each durable event whose position is in
	// [from, to], in order, and stops at the first error fn returns,
	// returning that error unchanged. The event, and the memory its
	// strings and slices point into, are valid only until fn returns:
	// copy what you keep (see RecordedEvent.Clone). fn runs without any
	// lock of the store held, so it may call the store.
	ScanAll(ctx context.Context, from, to uint64, fn func(*RecordedEvent) error) error
}

// scanPage is how many events ScanAll reads at a time from a log that is
// not a Scanner.
const scanPage = 4096

// ScanAll walks the events of the whole log with positions in [from, to]
// in order, as Scanner.ScanAll says: with log's own ScanAll when it has
// one, with pages of ReadAll otherwise.
func ScanAll(ctx context.Context, log AllReader, from, to uint64, fn func(*RecordedEvent) error) error {
	if s, ok := log.(Scanner); ok {
		return s.ScanAll(ctx, from, to, fn)
	}
	from = max(from, 1)
	for from <= to {
		page, err := log.ReadAll(ctx, Forwards, from, scanPage)
		if err != nil {
			return err
		}
		for i := range page {
			if page[i].Position > to {
				return nil
			}
			if err := fn(&page[i]); err != nil {
				return err
			}
		}
		if len(page) < scanPage || page[len(page)-1].Position == End {
			return nil
		}
		from = page[len(page)-1].Position + 1
	}
	return nil
}

// Clone returns a copy of e that shares no memory with it.
func (e *RecordedEvent) Clone() RecordedEvent {
	c := *e
	c.ID, c.Type, c.Stream = strings.Clone(e.ID), strings.Clone(e.Type), strings.Clone(e.Stream)
	c.Data, c.Metadata = bytes.Clone(e.Data), bytes.Clone(e.Metadata)
	return c
}
