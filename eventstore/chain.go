package eventstore

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// ChainHasher computes the log's tamper-evident hash chain: each event's
// hash covers its identity, place, time and content and the previous
// event's hash, so altering, removing or reordering any stored event breaks
// every hash after it. Backends that keep a chain compute it in their
// single commit path, in position order. A ChainHasher is not safe for
// concurrent use.
type ChainHasher struct {
	h   hash.Hash
	buf []byte
	len [4]byte
	sum [sha256.Size]byte
}

// NewChainHasher returns a hasher.
func NewChainHasher() *ChainHasher { return &ChainHasher{h: sha256.New(), buf: make([]byte, 0, 512)} }

// Sum returns the hash of ev chained to prev. ev.Hash is ignored.
func (c *ChainHasher) Sum(prev [32]byte, ev *RecordedEvent) [32]byte {
	b := c.buf[:0]
	b = append(b, prev[:]...)
	b = appendField(b, ev.ID)
	b = appendField(b, ev.Type)
	b = appendField(b, ev.Stream)
	b = binary.BigEndian.AppendUint64(b, ev.Revision)
	b = binary.BigEndian.AppendUint64(b, ev.Position)
	b = binary.BigEndian.AppendUint64(b, uint64(ev.RecordedAt.UnixNano()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(ev.Data)))
	c.h.Reset()
	c.h.Write(b)
	c.h.Write(ev.Data)
	binary.BigEndian.PutUint32(c.len[:], uint32(len(ev.Metadata)))
	c.h.Write(c.len[:])
	c.h.Write(ev.Metadata)
	c.buf = b
	c.h.Sum(c.sum[:0])
	return c.sum
}

func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
