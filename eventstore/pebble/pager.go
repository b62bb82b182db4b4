package pebble

import (
	"encoding/binary"
	"fmt"

	"github.com/videologue/videologue/eventstore"
)

// pager accumulates the events of a read. The wanted records of each chunk
// are copied out of pebble's buffers in one piece, into memory that is
// never written again, and decoded from there: the events' strings and
// slices alias that copy (aliasString), so a page costs a few allocations
// rather than five per event.
type pager struct {
	events []eventstore.RecordedEvent
	limit  int
	offs   []int  // scratch: record boundaries within a chunk
	arena  []byte // holds the copies; only ever appended to
}

// reserve makes room in the arena for size bytes of n records.
func (p *pager) reserve(size, n int) {
	if size <= 0 || cap(p.arena)-len(p.arena) >= size {
		return
	}
	rest := max(n, cap(p.events)-len(p.events))
	p.arena = make([]byte, 0, max(size, size/n*rest+size/8))
}

// keep copies run, which holds n records, into the arena and returns the
// copy. When the arena is full, a new one sized for the rest of the page
// replaces it (growing it would move what events already alias), so a
// page takes one or two buffers.
func (p *pager) keep(run []byte, n int) []byte {
	p.reserve(len(run), n)
	start := len(p.arena)
	p.arena = append(p.arena, run...)
	return p.arena[start:len(p.arena):len(p.arena)]
}

// newPager returns a pager for at most limit events, expecting about want.
func newPager(limit, want int) *pager {
	return &pager{events: make([]eventstore.RecordedEvent, 0, min(limit, want)), limit: limit}
}

func (p *pager) full() bool { return len(p.events) >= p.limit }

func (p *pager) finish() []eventstore.RecordedEvent {
	if len(p.events) == 0 {
		return nil
	}
	return p.events
}

// chunk adds the records of c with positions in [lo, hi], in direction
// dir, until p is full.
func (p *pager) chunk(c *chunkReader, lo, hi uint64, dir eventstore.Direction) error {
	if dir == eventstore.Backwards {
		return p.chunkBackwards(c, lo, hi)
	}
	for c.left > 0 && c.pos < lo {
		if _, _, _, err := c.next(); err != nil {
			return err
		}
	}
	// A chunk's positions are consecutive: the count wanted is known, and
	// when it is the rest of the chunk, so is where it ends.
	n := min(c.left, hi-c.pos+1, uint64(p.limit-len(p.events)))
	if c.left == 0 || c.pos > hi || n == 0 {
		return nil
	}
	run := c.p
	if n < c.left {
		end := *c
		for range n {
			if _, _, _, err := end.next(); err != nil {
				return err
			}
		}
		run = run[:len(run)-len(end.p)]
	}
	// Only the records' variable parts are kept; their fixed parts are
	// decoded where they are.
	p.reserve(len(run)-int(n)*(recordHead+1), int(n))
	r := chunkReader{p: run, left: n, pos: c.pos}
	for {
		rec, pos, more, err := r.next()
		if err != nil || !more {
			return err
		}
		if len(rec) < recordHead {
			return fmt.Errorf("event at position %d: %w", pos, errCorrupt)
		}
		if err := p.decodeParts(rec[:recordHead], p.keep(rec[recordHead:], 1), pos); err != nil {
			return err
		}
	}
}

// chunkBackwards adds the records of c with positions in [lo, hi], newest
// first, until p is full.
func (p *pager) chunkBackwards(c *chunkReader, lo, hi uint64) error {
	base := c.p
	p.offs = p.offs[:0] // where each wanted record starts in base
	end := 0            // where the last one ends
	var first uint64
	for {
		off := len(base) - len(c.p)
		_, pos, more, err := c.next()
		if err != nil {
			return err
		}
		if !more || pos > hi {
			break
		}
		if pos < lo {
			continue
		}
		if len(p.offs) == 0 {
			first = pos
		}
		p.offs = append(p.offs, off)
		end = len(base) - len(c.p)
	}
	if len(p.offs) == 0 {
		return nil
	}
	// Keep the newest records that fit.
	skip := max(0, len(p.offs)-(p.limit-len(p.events)))
	seg := p.keep(base[p.offs[skip]:end], len(p.offs)-skip)
	first += uint64(skip)
	// c.next has checked every boundary.
	shift := p.offs[skip]
	for i := len(p.offs) - 1; i >= skip; i-- {
		o := p.offs[i] - shift
		n, w := binary.Uvarint(seg[o:])
		if err := p.decode(seg[o+w:o+w+int(n)], first+uint64(i-skip)); err != nil {
			return err
		}
	}
	return nil
}

func (p *pager) decode(rec []byte, pos uint64) error {
	if len(rec) < recordHead {
		return fmt.Errorf("event at position %d: %w", pos, errCorrupt)
	}
	return p.decodeParts(rec[:recordHead], rec[recordHead:], pos)
}

func (p *pager) decodeParts(head, body []byte, pos uint64) error {
	n := len(p.events)
	if n < cap(p.events) {
		p.events = p.events[:n+1] // already zero: no need to write it
	} else {
		p.events = append(p.events, eventstore.RecordedEvent{})
	}
	if err := decodeRecordParts(head, body, pos, &p.events[n]); err != nil {
		return fmt.Errorf("event at position %d: %w", pos, err)
	}
	return nil
}
