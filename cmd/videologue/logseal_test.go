package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/audit"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	"github.com/videologue/videologue/personal"
)

// A log written before sealing existed is copied into one whose events
// are the same at the same positions, revisions and times, with the
// personal data sealed: no file of the copy holds the plaintext, both
// verify, the copy's last event names the original's head, and the
// sealed values open to the original text.
func TestLogSealCopy(t *testing.T) {
	ctx := context.Background()
	from, to := filepath.Join(t.TempDir(), "old"), filepath.Join(t.TempDir(), "new")
	src, err := pebble.Open(from, pebble.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := json.Marshal(domain.UserRegistered{Username: "zqoldname", PasswordHash: "x"})
	if _, err := src.Append(ctx, domain.UsersStream, eventstore.Any, eventstore.EventData{Type: domain.TypeUserRegistered, Data: reg, Metadata: eventstore.Metadata{ClientAddr: "198.51.100.77"}.Encode()}); err != nil {
		t.Fatal(err)
	}
	// A video added before its events sealed their address.
	added, _ := json.Marshal(domain.VideoAdded{UserID: 1, Title: "old", URL: "https://example.com/v.mp4", Slug: "old"})
	if _, err := src.Append(ctx, domain.VideosStream, eventstore.Any, eventstore.EventData{Type: domain.TypeVideoAdded, Data: added, Metadata: eventstore.Metadata{UserID: "1", ClientAddr: "198.51.100.78"}.Encode()}); err != nil {
		t.Fatal(err)
	}
	notes := annotations.New(src, nil, nil)
	for i := range 5 {
		if _, err := notes.Post(ctx, 1, 1, "zqoldname", "zq plaintext note "+strings.Repeat("x", i), int64(i), eventstore.Metadata{UserID: "1", ClientAddr: "198.51.100.77"}); err != nil {
			t.Fatal(err)
		}
	}
	var orig []eventstore.RecordedEvent
	if orig, err = src.ReadAll(ctx, eventstore.Forwards, 0, 100); err != nil {
		t.Fatal(err)
	}
	src.Close()

	var out bytes.Buffer
	if err := sealCopy(ctx, from, to, devDataKey, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(to, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			for _, s := range []string{"zqoldname", "zq plaintext", "198.51.100.77", "198.51.100.78"} {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds %q", p, s)
				}
			}
		}
		return nil
	})
	dst, err := pebble.Open(to, pebble.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	rep, err := audit.Verify(ctx, dst, audit.Options{})
	if err != nil || rep.Events != uint64(len(orig))+1 {
		t.Fatalf("verify the copy: %+v %v", rep, err)
	}
	copied, err := dst.ReadAll(ctx, eventstore.Forwards, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range orig {
		c := copied[i]
		if c.Position != o.Position || c.Stream != o.Stream || c.Revision != o.Revision || !c.RecordedAt.Equal(o.RecordedAt) {
			t.Errorf("event %d: copied %s/%d at %d %v, original %s/%d at %d %v", i, c.Stream, c.Revision, c.Position, c.RecordedAt, o.Stream, o.Revision, o.Position, o.RecordedAt)
		}
	}
	var link domain.LogCopied
	last := copied[len(copied)-1]
	if err := json.Unmarshal(last.Data, &link); err != nil || last.Type != domain.TypeLogCopied || link.FromPosition != orig[len(orig)-1].Position || !strings.Contains(out.String(), link.FromHash) {
		t.Fatalf("the copy's last event: %s %s", last.Type, last.Data)
	}
	keys, _, closeKeys, err := openKeyring(ctx, to, StoreConfig{}, devDataKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeKeys()
	var posted domain.AnnotationPosted
	_ = json.Unmarshal(copied[2].Data, &posted)
	if body, err := keys.Open(ctx, 1, personal.Body, posted.Body); err != nil || body != "zq plaintext note" || !personal.IsSealed(posted.Body) {
		t.Fatalf("the copied body %q opens to %q, %v", posted.Body, body, err)
	}
}
