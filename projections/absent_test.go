package projections

import (
	"fmt"
	"testing"
)

func TestAbsentFilterKnowsWhatItHolds(t *testing.T) {
	f := newAbsentFilter(10000)
	for i := range 10000 {
		f.add(fmt.Appendf(nil, "key-%d", i))
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
