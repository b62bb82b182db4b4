package projections

import (
	"encoding/binary"
	"time"
)

// Key layout. The first byte names the owner, so that rebuilding a
// projection clears exactly its range:
//
//	'c' name                          -> checkpoint: position(8) time(8)
//	'f' name                          -> the format of its records: version(4)
//	'p' name 0x00 position(8)         -> a poisoned event (JSON)
//	'A' 'c' video(8)                  -> the video's counters        (activity)
//	'A' 'a' video(8) annotation(8)    -> an annotation, current
//	'A' 'h' video(8) at(8) annotation(8) position(8)
//	                                  -> one version of it: as-of-T and the
//	                                     current annotations scan them in
//	                                     video-time order
//	'A' 't' video(8) time(8) position(8) -> the video's timeline
//	'A' 'v' video(8) time(8) position(8) -> a viewing, by its start
//	'A' 'k' video(8) presence ref     -> that viewing's key suffix
//	'D' 'e' time(8) position(8)       -> an annotation event, for auditors (audit)
//	'D' 'a' video(8) annotation(8)    -> that annotation's moment, text and author
//	'T' ...                           -> replies (replies.go)
//
// Integers are big endian so that keys sort numerically; times are Unix
// nanoseconds (see timeKey).
const (
	nsCheckpoint = 'c'
	nsFormat     = 'f'
	nsPoison     = 'p'
	nsActivity   = 'A'
	nsAudit      = 'D'
)

func checkpointKey(name string) []byte { return append([]byte{nsCheckpoint}, name...) }

func formatKey(name string) []byte { return append([]byte{nsFormat}, name...) }

func poisonPrefix(name string) []byte {
	return append(append([]byte{nsPoison}, name...), 0)
}

func poisonKey(name string, pos uint64) []byte {
	return binary.BigEndian.AppendUint64(poisonPrefix(name), pos)
}

// key builds a key from a prefix and big-endian integers.
type key []byte

func newKey(prefix ...byte) key {
	k := make(key, 0, 48) // room for the longest fixed key: stays on the stack
	return append(k, prefix...)
}

func (k key) u64(v uint64) key  { return binary.BigEndian.AppendUint64(k, v) }
func (k key) i64(v int64) key   { return k.u64(uint64(v)) }
func (k key) str(s string) key  { return append(k, s...) }
func (k key) t(t time.Time) key { return k.u64(timeKey(t)) }

// upper is the smallest key above every key that starts with k.
func upper(k []byte) []byte {
	u := append([]byte(nil), k...)
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] < 0xff {
			u[i]++
			return u[:i+1]
		}
	}
	return nil // k is all 0xff: no upper bound
}

// timeKey is t as Unix nanoseconds; the zero time (and anything before
// 1970) is 0.
func timeKey(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	n := t.UnixNano()
	if n < 0 {
		return 0
	}
	return uint64(n)
}

// keyTime inverts timeKey, in UTC.
func keyTime(n uint64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}

func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
