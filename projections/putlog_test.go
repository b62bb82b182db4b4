package projections

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The Puts of a batch reach pebble sorted as bytes.Compare sorts their
// keys, whatever their lengths, and of two Puts of one key only the
// later.
func TestPutLogSortsAsKeysDo(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	type kv struct{ k, v []byte }
	var want []kv
	var p putLog
	for i := range 5000 {
		k := make([]byte, rng.IntN(40))
		for j := range k {
			k[j] = byte(rng.IntN(3)) // many shared prefixes, zeros and ties
		}
		v := []byte{byte(i), byte(i >> 8)}
		p.add(k, v)
		want = append(want, kv{k, v})
	}
	slices.SortStableFunc(want, func(x, y kv) int { return bytes.Compare(x.k, y.k) })
	for i := 0; i+1 < len(want); {
		if bytes.Equal(want[i].k, want[i+1].k) {
			want = slices.Delete(want, i, i+1) // the later stays
		} else {
			i++
		}
	}
	if len(want) > 4900 {
		t.Fatalf("%d distinct keys of 5000: too few ties to test", len(want))
	}
	b := db.NewBatch()
	defer b.Close()
	if err := p.writeTo(b); err != nil {
		t.Fatal(err)
	}
	r := b.Reader()
	for i, w := range want {
		_, k, v, ok, err := r.Next()
		if !ok || err != nil {
			t.Fatalf("record %d: missing (%v)", i, err)
		}
		if !bytes.Equal(k, w.k) || !bytes.Equal(v, w.v) {
			t.Fatalf("record %d is %x=%x; want %x=%x", i, k, v, w.k, w.v)
		}
	}
	if _, k, _, ok, _ := r.Next(); ok {
		t.Fatalf("a record %x more than the %d distinct keys", k, len(want))
	}
}

// The quicksort and its fallback, for a log that makes it go deep, sort
// alike.
func TestPutSorterFallbackSortsAlike(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var a, b putLog
	for range 3000 {
		k := make([]byte, 20+rng.IntN(20))
		for j := range k {
			k[j] = byte(rng.IntN(4))
		}
		a.add(k, nil)
		b.add(k, nil)
	}
	sa, sb := sortingOf(&a), sortingOf(&b)
	(&putSorter{chunks: a.chunks}).sort(sa, 64)
	(&putSorter{chunks: b.chunks}).sort(sb, 0) // straight to the fallback
	s := &putSorter{chunks: a.chunks}
	if !s.sorted(sa) || !(&putSorter{chunks: b.chunks}).sorted(sb) {
		t.Fatal("not sorted")
	}
	for i := range sa {
		if sa[i] != sb[i] {
			t.Fatalf("entry %d differs: %+v, %+v", i, sa[i], sb[i])
		}
	}
}

// The bucket sort sorts as a plain sort does, keeping the order logged
// among equal keys: buckets in order and out of order, keys shorter than
// a bucket's prefix, and logs of so many buckets that it sorts them
// whole; the scratch memory serves log after log, larger and smaller.
func TestPutSorterByBucketSortsAlike(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var scratch []sortingPut
	for _, buckets := range []int{1, 3, 40, 5000, 7} {
		var p putLog
		type entry struct {
			k []byte
			i int
		}
		var want []entry
		seqs := make([]uint64, buckets)
		for i := range 6000 + 500*buckets%7000 {
			b := rng.IntN(buckets)
			k := binary.BigEndian.AppendUint64([]byte{'A', byte('a' + b%3)}, uint64(b))
			switch rng.IntN(4) {
			case 0: // out of order
				k = binary.BigEndian.AppendUint64(k, rng.Uint64N(50))
			case 1: // a short key
				k = k[:rng.IntN(len(k))]
			default: // in order
				seqs[b] += rng.Uint64N(2)
				k = binary.BigEndian.AppendUint64(k, seqs[b])
			}
			p.add(k, []byte{byte(i)})
			want = append(want, entry{k, i})
		}
		a := sortingOf(&p)
		(&putSorter{chunks: p.chunks}).sortByBucket(a, &scratch)
		for i := range a {
			p.log[i] = a[i].loggedPut
		}
		slices.SortStableFunc(want, func(x, y entry) int { return bytes.Compare(x.k, y.k) })
		if len(p.log) != len(want) {
			t.Fatalf("%d buckets: %d entries sorted of %d", buckets, len(p.log), len(want))
		}
		for i, w := range want {
			if !bytes.Equal(p.key(i), w.k) || p.value(i)[0] != byte(w.i) {
				t.Fatalf("%d buckets: entry %d is %x (%d); want %x (%d)", buckets, i, p.key(i), p.value(i)[0], w.k, byte(w.i))
			}
		}
	}
}

// sortingOf returns p's entries with their keys' prefixes, to sort.
func sortingOf(p *putLog) []sortingPut {
	a := make([]sortingPut, len(p.log))
	for i, e := range p.log {
		a[i] = sortingPut{pre: prefixOf(p.key(i)), loggedPut: e}
	}
	return a
}
