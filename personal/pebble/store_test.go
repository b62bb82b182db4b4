package pebble_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/videologue/videologue/personal"
	"github.com/videologue/videologue/personal/pebble"
)

func open(t *testing.T, dir string) (*pebble.Store, *personal.Keyring) {
	t.Helper()
	s, err := pebble.Open(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	dk, err := personal.DataKey("test data key")
	if err != nil {
		t.Fatal(err)
	}
	r, err := personal.NewKeyring(s, dk)
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

// rawContains reports whether any file under dir holds b.
func rawContains(t *testing.T, dir string, b []byte) string {
	t.Helper()
	found := ""
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil && bytes.Contains(data, b) {
			found = p
		}
		return nil
	})
	return found
}

func TestSealOpenErase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, r := open(t, dir)
	sealed, err := r.Seal(ctx, 17, personal.Body, "my secret note")
	if err != nil {
		t.Fatal(err)
	}
	if !personal.IsSealed(sealed) || bytes.Contains([]byte(sealed), []byte("secret")) {
		t.Fatalf("sealed = %q", sealed)
	}
	other, _ := r.Seal(ctx, 17, personal.Body, "my secret note")
	if other == sealed {
		t.Fatal("two seals of one text are equal: the nonce is reused")
	}
	for _, c := range []struct {
		user int64
		kind personal.Kind
		v    string
		want string
	}{
		{17, personal.Body, sealed, "my secret note"},
		{17, personal.Username, sealed, "erased user #17"}, // another kind does not open it
		{18, personal.Body, sealed, "[erased]"},            // nor another user
		{17, personal.Body, "plain old text", "plain old text"},
		{17, personal.Body, sealed[:len(sealed)-2] + "AA", "[erased]"}, // altered
	} {
		if got, err := r.Open(ctx, c.user, c.kind, c.v); err != nil || got != c.want {
			t.Errorf("Open(%d, %s, %.20q) = %q, %v; want %q", c.user, c.kind, c.v, got, err, c.want)
		}
	}
	wrapped, err := s.Get(ctx, 17)
	if err != nil {
		t.Fatal(err)
	}
	if p := rawContains(t, dir, wrapped); p == "" {
		t.Fatal("the wrapped key is not in the store's files before the erasure: the check below proves nothing")
	}
	if err := r.Erase(ctx, 17); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Open(ctx, 17, personal.Body, sealed); got != "[erased]" {
		t.Fatalf("after erasure Open = %q", got)
	}
	if got, _ := r.Open(ctx, 17, personal.Body, "plain old text"); got != "[erased]" {
		t.Fatalf("after erasure an unsealed value reads %q", got)
	}
	if _, err := r.Seal(ctx, 17, personal.Body, "again"); !errors.Is(err, personal.ErrErased) {
		t.Fatalf("Seal for an erased user: %v", err)
	}
	if err := r.Erase(ctx, 17); err != nil {
		t.Fatalf("erasing twice: %v", err)
	}
	if p := rawContains(t, dir, wrapped); p != "" {
		t.Fatalf("the erased key's bytes are still in %s", p)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, r = open(t, dir)
	defer s.Close()
	if got, _ := r.Open(ctx, 17, personal.Body, sealed); got != "[erased]" {
		t.Fatalf("after reopening Open = %q", got)
	}
	if erased, err := r.IsErased(ctx, 17); err != nil || !erased {
		t.Fatalf("IsErased = %v, %v", erased, err)
	}
	if p := rawContains(t, dir, wrapped); p != "" {
		t.Fatalf("after reopening the erased key's bytes are in %s", p)
	}
}

func TestWrongDataKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, r := open(t, dir)
	if _, err := r.Seal(ctx, 1, personal.Body, "x"); err != nil {
		t.Fatal(err)
	}
	dk, _ := personal.DataKey("another data key")
	r2, _ := personal.NewKeyring(s, dk)
	if _, err := r2.Seal(ctx, 1, personal.Body, "x"); err == nil {
		t.Fatal("a key store opened with the wrong data key seals")
	}
	s.Close()
}
