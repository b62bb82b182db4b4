//go:build !(cgo && linux)

package cmem

func tune() {}

func mappedApart(int) (apart, ok bool) { return false, false }
