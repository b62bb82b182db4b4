package projections

import (
	"hash/maphash"
	"math/bits"
)

// absentFilter is a bloom filter of the keys a Writer has Set or Deleted
// since its projection's records were cleared (a rebuild). A key it has
// never seen cannot exist, so Get answers "absent" without asking the
// database: most lookups of a rebuild are of keys that do not exist yet
// (a new viewer's session). Nor can such a key be in the Writer's
// cache, so its first Set makes a cache entry without looking for one.
// False positives only cost a lookup.
//
// It is blocked: all the bits of a key are in one 64-byte block, so a
// lookup or an insert touches one cache line, and the block and the bits
// come from shifts and masks rather than divisions.
type absentFilter struct {
	seed   maphash.Seed
	blocks [][8]uint64
	shift  uint // the block is the hash's top bits
}

const absentProbes = 6

// newAbsentFilter sizes the filter for about n keys at 10 bits or more
// each.
func newAbsentFilter(n uint64) *absentFilter {
	lg := max(4, bits.Len64(n*10/512)) // log2 of the number of blocks
	return &absentFilter{seed: maphash.MakeSeed(), blocks: make([][8]uint64, 1<<lg), shift: uint(64 - lg)}
}

// probe returns k's block and a second hash to take its bits from.
func (f *absentFilter) probe(k []byte) (*[8]uint64, uint64) {
	h := maphash.Bytes(f.seed, k)
	g := (h ^ h>>31) * 0xbf58476d1ce4e5b9 // mixed again: independent of the block
	return &f.blocks[h>>f.shift], g ^ g>>29
}

// addNew adds k and reports whether the filter had never seen it: then
// k was never added before.
func (f *absentFilter) addNew(k []byte) bool {
	b, g := f.probe(k)
	seen := true
	for range absentProbes {
		bit := uint64(1) << (g & 63)
		seen = seen && b[g>>6&7]&bit != 0
		b[g>>6&7] |= bit
		g >>= 9
	}
	return !seen
}

func (f *absentFilter) mayContain(k []byte) bool {
	b, g := f.probe(k)
	for range absentProbes {
		if b[g>>6&7]&(1<<(g&63)) == 0 {
			return false
		}
		g >>= 9
	}
	return true
}
