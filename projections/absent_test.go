package projections

import (
	"fmt"
	"testing"
)

func TestAbsentFilterKnowsWhatItHolds(t *testing.T) {
	f := newAbsentFilter(10000)
	for i := range 10000 {
		f.addNew(fmt.Appendf(nil, "key-%d", i))
	}
	fp := 0
	for i := range 10000 {
		if !f.mayContain(fmt.Appendf(nil, "key-%d", i)) {
			t.Fatalf("key-%d was added but the filter says it is absent", i)
		}
		if f.mayContain(fmt.Appendf(nil, "other-%d", i)) {
			fp++
		}
	}
	if fp > 300 { // about 1% expected
		t.Errorf("%d false positives in 10000", fp)
	}
}

func TestAbsentFilterAddNewTellsFirstSight(t *testing.T) {
	f := newAbsentFilter(10000)
	f.addNew([]byte("old"))
	if f.addNew([]byte("old")) {
		t.Error("addNew says a key added before is new")
	}
	news := 0
	for i := range 10000 {
		k := fmt.Appendf(nil, "key-%d", i)
		if f.addNew(k) {
			news++
		}
		if f.addNew(k) {
			t.Fatalf("key-%d is new a second time", i)
		}
		if !f.mayContain(k) {
			t.Fatalf("addNew did not add key-%d", i)
		}
	}
	if news < 9700 { // a false positive makes a new key look seen: about 1%
		t.Errorf("only %d of 10000 new keys were new", news)
	}
}

// In a rebuild, a key's first write makes its cache entry without looking
// for one: a key deleted and then set, or set and then deleted, still has
// one entry, with its last write, committed once.
func TestWriterFirstWritesOfKeys(t *testing.T) {
	db := openDB(t, t.TempDir())
	defer db.Close()
	w := &Writer{written: newAbsentFilter(1000)}
	apply := func(f func()) {
		w.begin(db.db)
		f()
		w.accept()
	}
	apply(func() { w.Delete([]byte("a")) })
	apply(func() { w.Set([]byte("a"), []byte("1")) })
	apply(func() { w.Set([]byte("b"), []byte("2")) })
	apply(func() { w.Delete([]byte("b")) })
	apply(func() { w.Set([]byte("c"), []byte("3")) })
	apply(func() {
		for k, want := range map[string]string{"a": "1", "b": "", "c": "3", "d": ""} {
			v, ok, err := w.Get([]byte(k))
			if err != nil || ok != (want != "") || string(v) != want {
				t.Errorf("Get(%s) = %q, %v, %v; want %q", k, v, ok, err, want)
			}
		}
	})
	if len(w.cache) != 3 || len(w.dirty) != 3 {
		t.Errorf("%d cache entries, %d to commit; want 3 and 3", len(w.cache), len(w.dirty))
	}
}
