package pebble

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// headFile is the name, in the log's directory, of the durable head's
// checkpoint. pebble drops a damaged tail of its last write-ahead log at
// open without a word; this file, written outside pebble, remembers how
// far the log was durable, so that such a loss is refused at open instead
// of reusing positions clients have seen.
const headFile = "VIDEOLOGUE-HEAD"

// checkpointEvery bounds how often the head is written: the checkpoint
// trails the durable head by at most this much, which is what a lost
// tail can hide.
const checkpointEvery = time.Second

// The checkpoint is "vlhead1" | position (8, big endian) | CRC-32C of both.
var headMagic = []byte("vlhead1")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// LostTailError is a log that ends below the position its checkpoint
// recorded as durable: acknowledged events were lost.
type LostTailError struct {
	Dir     string
	Head    uint64 // the log's last position now
	Durable uint64 // the last position recorded as durable
}

func (e *LostTailError) Error() string {
	return fmt.Sprintf("the event log in %s ends at position %d, but position %d was durable (%s): %d acknowledged events are lost (a damaged write-ahead log?). "+
		"Restore the data directory from a backup, or accept the loss with `videologue audit accept-loss --data %s` (docs/DEPLOYMENT.md, \"Damaged data\")",
		e.Dir, e.Head, e.Durable, headFile, e.Durable-e.Head, e.Dir)
}

// ErrLostTail matches a *LostTailError with errors.Is.
var ErrLostTail = errors.New("event log lost its tail")

func (e *LostTailError) Is(target error) bool { return target == ErrLostTail }

// readHead returns the checkpointed position; ok is false when there is
// no checkpoint.
func readHead(dir string) (pos uint64, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, headFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	n := len(headMagic)
	if len(b) != n+12 || !bytes.Equal(b[:n], headMagic) || crc32.Checksum(b[:n+8], crcTable) != binary.BigEndian.Uint32(b[n+8:]) {
		return 0, false, &DamagedError{Dir: dir, File: filepath.Join(dir, headFile), Err: errors.New("the durable head checkpoint does not match its checksum"),
			Remedy: "restore the data directory from a backup, or record a new checkpoint with `videologue audit accept-loss --data " + dir + "`, then run `videologue audit verify`"}
	}
	return binary.BigEndian.Uint64(b[n:]), true, nil
}

// writeHead records pos as durable: a new file, synced, renamed over the
// old one, and the directory synced, so that the file is always either
// the old checkpoint or the new one.
func writeHead(dir string, pos uint64) error {
	b := append([]byte(nil), headMagic...)
	b = binary.BigEndian.AppendUint64(b, pos)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
	tmp := filepath.Join(dir, headFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, headFile))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("record the durable head: %w", err)
	}
	return syncDir(dir)
}

// checkHead compares the log's head with its checkpoint; acceptLoss
// records the head it has instead of refusing.
func (s *Store) checkHead(dir string, acceptLoss bool) error {
	head := s.nextPos - 1
	durable, ok, err := readHead(dir)
	if err != nil && !acceptLoss {
		return err
	}
	if ok && durable > head && !acceptLoss {
		return &LostTailError{Dir: dir, Head: head, Durable: durable}
	}
	if !ok || durable != head {
		return writeHead(dir, head)
	}
	return nil
}

// checkpointLoop writes the durable head whenever it has moved, at most
// once every checkpointEvery, until the store closes; then once more.
func (s *Store) checkpointLoop(dir string, written uint64) {
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	write := func() {
		if d := s.durable.Load(); d > written {
			if err := writeHead(dir, d); err != nil {
				s.health.logEvery.Do(func() {
					s.logger.Error("event log: cannot record the durable head", "dir", dir, "err", err)
				})
				return
			}
			written = d
		}
	}
	for {
		select {
		case <-s.closed:
			<-s.done // the last appends are durable
			write()
			return
		case <-t.C:
			write()
		}
	}
}

// syncDir makes a rename in dir durable. Windows cannot open a directory
// to sync it, and makes renames durable on its own.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
