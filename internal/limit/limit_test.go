package limit

import (
	"testing"
	"time"
)

func TestBurstThenRefuseThenRefill(t *testing.T) {
	l := New[int64](10, 3, 0)
	now := time.Unix(1000, 0)
	for i := range 3 {
		if !l.Allow(1, now) {
			t.Fatalf("take %d refused within the burst", i)
		}
	}
	ok, wait := l.Reserve(1, now)
	if ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Fatalf("fourth take: ok=%v wait=%v, want refused with a wait of at most 100ms", ok, wait)
	}
	if !l.Allow(2, now) {
		t.Fatal("another key shares the first key's bucket")
	}
	if !l.Allow(1, now.Add(100*time.Millisecond)) {
		t.Fatal("a token did not come back after 1/rate")
	}
}

// A key's bucket survives anything its owner does: only time refills it.
func TestBucketKeptUntilFull(t *testing.T) {
	l := New[string](1, 2, 2)
	now := time.Unix(1000, 0)
	l.Allow("a", now)
	l.Allow("a", now)
	if l.Allow("a", now) {
		t.Fatal("burst of 2 allowed 3")
	}
	// A full table refuses new keys rather than forgetting "a".
	l.Allow("b", now)
	if l.Allow("c", now) {
		t.Fatal("a new key was let in past maxKeys while every bucket mattered")
	}
	if l.Allow("a", now.Add(500*time.Millisecond)) {
		t.Fatal("a's bucket was reset")
	}
	later := now.Add(time.Minute)
	if !l.Allow("c", later) {
		t.Fatal("full buckets were not swept to make room")
	}
}

func TestUnlimited(t *testing.T) {
	l := New[int](0, 0, 0)
	for range 1000 {
		if !l.Allow(1, time.Now()) {
			t.Fatal("an unlimited limiter refused")
		}
	}
}

func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:5555":             "192.0.2.7",
		"192.0.2.7":                  "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:80":  "2001:db8:1:2::/64",
		"[::ffff:192.0.2.7]:1":       "192.0.2.7",
		"[fe80::1%eth0]:1":           "fe80::/64",
		"not an address":             "not an address",
	} {
		if got := AddrKey(in); got != want {
			t.Errorf("AddrKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUserAndAddrSpendsTheUserFirst(t *testing.T) {
	l := NewUserAndAddr(1, 1, 1, 2, 0)
	now := time.Unix(1000, 0)
	if ok, _ := l.Reserve(1, "a", now); !ok {
		t.Fatal("first take refused")
	}
	// User 1 is out: its refusal must not spend the address's token.
	if ok, wait := l.Reserve(1, "a", now); ok || wait <= 0 {
		t.Fatalf("user over its burst: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.Reserve(2, "a", now); !ok {
		t.Fatal("another user of the address paid for user 1's refusal")
	}
	if ok, _ := l.Reserve(3, "a", now); ok {
		t.Fatal("the address's burst of 2 allowed 3")
	}
}

func TestRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 6 * time.Second: 6} {
		if got := RetryAfter(d); got != want {
			t.Errorf("RetryAfter(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestSlots(t *testing.T) {
	s := NewSlots(2)
	if !s.Take("a") || !s.Take("a") || s.Take("a") {
		t.Fatal("a cap of 2 did not hold")
	}
	if !s.Take("b") {
		t.Fatal("another key shares a's slots")
	}
	s.Release("a")
	if !s.Take("a") {
		t.Fatal("a released slot was not given back")
	}
	unlimited := NewSlots(0)
	for range 100 {
		if !unlimited.Take("a") {
			t.Fatal("no cap refused")
		}
	}
}
