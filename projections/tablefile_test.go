package projections

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// A table file holds exactly what was written, in pieces of any size,
// whether it writes around the page cache or through it (for file
// systems that refuse O_DIRECT).
func TestTableFileWritesEveryByte(t *testing.T) {
	dir := t.TempDir()
	for _, direct := range []bool{true, false} {
		name := map[bool]string{true: "direct", false: "page cache"}[direct]
		for _, size := range []int{0, 1, directAlign - 1, directAlign, tableBuffer, tableBuffer + 1, 3*tableBuffer + 12345} {
			path := filepath.Join(dir, "t.sst")
			f, err := openTableFile(path, direct)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			rng := rand.New(rand.NewPCG(uint64(size), 7))
			want := make([]byte, size)
			for i := range want {
				want[i] = byte(rng.Uint32())
			}
			for rest := want; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(70000))
				piece := append([]byte(nil), rest[:n]...)
				if err := f.Write(piece); err != nil {
					t.Fatal(err)
				}
				clear(piece) // pebble may reuse what it wrote
				rest = rest[n:]
			}
			if err := f.Finish(); err != nil {
				t.Fatalf("%s, %d bytes: %v", name, size, err)
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s, %d bytes: read back %d bytes (%v), not what was written", name, size, len(got), err)
			}
			os.Remove(path)
		}
	}
}
