package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/videologue/videologue/audit"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/personal"
	pkeys "github.com/videologue/videologue/personal/pebble"
)

// A log whose bodies are sealed verifies before and after its users are
// erased (verification reads bytes, it decrypts nothing), and a byte
// changed inside a ciphertext is named as the first altered event.
func TestVerifySealedLogAcrossErasure(t *testing.T) {
	ctx := context.Background()
	dir, keysDir := t.TempDir(), t.TempDir()
	ks, err := pkeys.Open(keysDir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	dk, _ := personal.DataKey("audit test")
	keys, err := personal.NewKeyring(ks, dk)
	if err != nil {
		t.Fatal(err)
	}
	s, err := pebble.Open(dir, pebble.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		user := int64(i%3 + 1)
		body, err := keys.Seal(ctx, user, personal.Body, fmt.Sprintf("note %d", i))
		if err != nil {
			t.Fatal(err)
		}
		data := fmt.Appendf(nil, `{"user_id":%d,"username":"u","body":%q,"at":%d}`, user, body, i)
		if _, err := s.Append(ctx, "video-1", eventstore.Any, eventstore.EventData{Type: "annotation_posted.v1", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := verify(t, dir, audit.Options{}); err != nil || rep.Events != 300 {
		t.Fatalf("verify before erasure: %+v, %v", rep, err)
	}
	if err := keys.Erase(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if rep, err := verify(t, dir, audit.Options{Workers: 3, RangeSize: 40}); err != nil || rep.Events != 300 {
		t.Fatalf("verify after erasure: %+v, %v", rep, err)
	}
	const pos = 152 // a body sealed with the erased user's key
	err = pebble.Tamper(dir, pos, func(rec []byte) []byte {
		i := bytes.Index(rec, []byte(personal.Prefix))
		if i < 0 {
			t.Fatal("no sealed value in the record")
		}
		c := &rec[i+len(personal.Prefix)+10]
		if *c == 'A' {
			*c = 'B'
		} else {
			*c = 'A'
		}
		return rec
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = verify(t, dir, audit.Options{})
	var m *audit.MismatchError
	if !errors.As(err, &m) || m.Position != pos {
		t.Fatalf("verify = %v; want a mismatch at %d", err, pos)
	}
}
