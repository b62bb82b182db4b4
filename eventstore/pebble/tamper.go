package pebble

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Tamper rewrites the stored record of the event at pos with edit, behind
// the store's back: the hash chain is not updated. It exists for the
// auditors' tests and demonstrations of `audit verify` catching an altered
// log; the store at dir must not be open.
func Tamper(dir string, pos uint64, edit func(record []byte) []byte) error {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{nopLogger}})
	if err != nil {
		return fmt.Errorf("tamper: open %s: %w", dir, err)
	}
	defer db.Close()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixEvent}, UpperBound: eventKey(pos + 1)})
	if err != nil {
		return err
	}
	defer it.Close()
	if !it.Last() {
		return fmt.Errorf("tamper: no event at position %d", pos)
	}
	first := decodePos(it.Key())
	c, err := newChunkReader(first, it.Value())
	if err != nil {
		return err
	}
	out := binary.AppendUvarint(nil, c.left)
	found := false
	for {
		rec, p, more, err := c.next()
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if p == pos {
			rec, found = edit(append([]byte(nil), rec...)), true
		}
		out = appendBytes(out, rec)
	}
	if !found {
		return fmt.Errorf("tamper: no event at position %d", pos)
	}
	return db.Set(append([]byte(nil), it.Key()...), out, pebble.Sync)
}
