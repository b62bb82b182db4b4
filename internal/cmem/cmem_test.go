package cmem

import "testing"

// Before Tune, glibc maps a 1 MiB allocation apart from its heap; after
// it, allocations of up to 4 MiB come from the heap, where freed memory
// serves again.
func TestTuneKeepsBuffersInTheHeap(t *testing.T) {
	apart, ok := mappedApart(1 << 20)
	if !ok {
		t.Skip("no cgo, or a C library other than glibc: nothing to tune")
	}
	if !apart {
		t.Fatal("before Tune, a 1 MiB allocation was not mapped apart: the test cannot tell Tune's effect")
	}
	Tune()
	Tune() // once per process
	// Larger than the first: glibc raises its threshold by itself to the
	// size of a mapped block freed.
	if apart, _ := mappedApart(3 << 20); apart {
		t.Fatal("after Tune, a 3 MiB allocation is still mapped apart")
	}
	if apart, _ := mappedApart(2 * mmapThreshold); !apart {
		t.Fatalf("after Tune, a %d-byte allocation is not mapped apart: the threshold is not where it should be", 2*mmapThreshold)
	}
}
