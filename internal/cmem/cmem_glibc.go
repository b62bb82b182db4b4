//go:build cgo && linux

package cmem

/*
#include <malloc.h>
#include <stdlib.h>

static void setMmapThreshold(int n) {
#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, n);
#endif
}

// mappedApart allocates n bytes and reports whether malloc mapped them
// apart (-1: this C library cannot tell).
static int mappedApart(size_t n) {
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 33)
	size_t before = mallinfo2().hblkhd;
	void *p = malloc(n);
	__asm__ volatile("" : : "r"(p) : "memory"); // keep the compiler from dropping malloc and free
	size_t after = mallinfo2().hblkhd;
	free(p);
	return after > before;
#endif
#endif
	return -1;
}
*/
import "C"

func tune() { C.setMmapThreshold(C.int(mmapThreshold)) }

// mappedApart reports whether malloc maps an allocation of n bytes apart
// from its heap; ok is false where the C library cannot tell.
func mappedApart(n int) (apart, ok bool) {
	r := C.mappedApart(C.size_t(n))
	return r == 1, r >= 0
}
