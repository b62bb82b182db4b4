package projections

import "hash/maphash"

// absentFilter is a bloom filter of the keys a Writer has Set since its
// projection's records were cleared (a rebuild). A key it has never seen
// cannot exist, so Get answers "absent" without asking the database:
// most lookups of a rebuild are of keys that do not exist yet (a new
// viewer's session). False positives only cost a lookup.
type absentFilter struct {
	seed maphash.Seed
	bits []uint64
}

const absentProbes = 7

// newAbsentFilter sizes the filter for about n keys at 10 bits each.
func newAbsentFilter(n uint64) *absentFilter {
	words := max(1024, (n*10+63)/64)
	return &absentFilter{seed: maphash.MakeSeed(), bits: make([]uint64, words)}
}

func (f *absentFilter) probes(k []byte) (h1, h2 uint64) {
	h := maphash.Bytes(f.seed, k)
	return h, h>>32 | h<<32 | 1
}

func (f *absentFilter) add(k []byte) {
	h, d := f.probes(k)
	n := uint64(len(f.bits)) * 64
	for range absentProbes {
		b := h % n
		f.bits[b/64] |= 1 << (b % 64)
		h += d
	}
}

func (f *absentFilter) mayContain(k []byte) bool {
	h, d := f.probes(k)
	n := uint64(len(f.bits)) * 64
	for range absentProbes {
		b := h % n
		if f.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
		h += d
	}
	return true
}
