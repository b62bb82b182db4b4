package projections

import (
	"errors"
	"fmt"
	"os"
	"unsafe"
)

// tableFile is where a rebuild writes a table for pebble to ingest. It
// writes around the page cache (O_DIRECT) where the file system allows:
// the table goes to disk once, at the end of the rebuild, and nothing
// reads it before pebble does. On the machines measured, copying a
// rebuild's 200 MB into the page cache cost half a CPU-second, and
// writing it back before the final sync as long again; written directly
// it took a tenth of that. Where O_DIRECT is refused (tmpfs), it writes
// through the page cache in large pieces.
//
// It is pebble's objstorage.Writable.
type tableFile struct {
	f      *os.File
	direct bool
	buf    []byte // aligned to directAlign when direct; filled up to len
	err    error
}

const (
	tableBuffer = 1 << 20
	directAlign = 4096 // of buffers, offsets and lengths for O_DIRECT
)

func createTableFile(path string) (*tableFile, error) {
	if oDirect == 0 { // no O_DIRECT on this system
		return openTableFile(path, false)
	}
	t, err := openTableFile(path, true)
	if directRefused(err) {
		os.Remove(path) // the refusal may come after the file was made
		t, err = openTableFile(path, false)
	}
	return t, err
}

func openTableFile(path string, direct bool) (*tableFile, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if direct {
		flags |= oDirect
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, err
	}
	t := &tableFile{f: f, direct: direct}
	raw := make([]byte, tableBuffer+directAlign)
	skip := (directAlign - int(uintptr(unsafe.Pointer(unsafe.SliceData(raw))))%directAlign) % directAlign
	t.buf = raw[skip : skip : skip+tableBuffer]
	return t, nil
}

// Write copies p into the buffer, writing the buffer out each time it is
// full. pebble may reuse p once it returns.
func (t *tableFile) Write(p []byte) error {
	for len(p) > 0 && t.err == nil {
		n := copy(t.buf[len(t.buf):cap(t.buf)], p)
		t.buf, p = t.buf[:len(t.buf)+n], p[n:]
		if len(t.buf) == cap(t.buf) {
			t.flush(len(t.buf))
		}
	}
	return t.err
}

// flush writes the first n bytes of the buffer (a multiple of
// directAlign when direct) and keeps the rest at its start.
func (t *tableFile) flush(n int) {
	if _, err := t.f.Write(t.buf[:n]); err != nil {
		t.err = fmt.Errorf("write table %s: %w", t.f.Name(), err)
		return
	}
	t.buf = t.buf[:copy(t.buf, t.buf[n:])]
}

// Finish writes what is buffered and syncs the file: the bytes that do
// not fill a last aligned block are written with O_DIRECT turned off.
func (t *tableFile) Finish() error {
	if t.err == nil && t.direct {
		t.flush(len(t.buf) / directAlign * directAlign)
		if t.err == nil && len(t.buf) > 0 {
			if err := directOff(t.f); err != nil {
				t.err = fmt.Errorf("table %s: turn O_DIRECT off: %w", t.f.Name(), err)
			}
		}
	}
	if t.err == nil && len(t.buf) > 0 {
		t.flush(len(t.buf))
	}
	if t.err == nil {
		if err := t.f.Sync(); err != nil {
			t.err = fmt.Errorf("sync table %s: %w", t.f.Name(), err)
		}
	}
	return errors.Join(t.err, t.f.Close())
}

func (t *tableFile) Abort() { t.f.Close() }
