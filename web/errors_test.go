package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/videologue/videologue/eventstore"
)

// A write refused by a failed log is 503 "storage unavailable", and not
// logged per request: the log reports its failure once.
func TestStorageUnavailableIs503(t *testing.T) {
	err := fmt.Errorf("add video: %w", &eventstore.Error{Op: "append", Stream: "videos",
		Err: fmt.Errorf("%w: the disk of /data is full", eventstore.ErrUnavailable)})
	w := httptest.NewRecorder()
	var logged int
	logger := slog.New(countHandler{&logged})
	writeError(w, httptest.NewRequest("POST", "/api/videos", nil), logger, err)
	var body map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != http.StatusServiceUnavailable || body["error"] != "storage unavailable" || logged != 0 {
		t.Fatalf("got %d %v with %d log lines, want 503 storage unavailable, unlogged", w.Code, body, logged)
	}
}

// A request its client cancelled (a sign-in waiting for a hashing slot)
// is not a server failure: not 500, not logged. The same error while the
// client is still there stays a 500.
func TestCancelledRequestIsNotLogged(t *testing.T) {
	err := fmt.Errorf("sign in: %w", context.Canceled)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	var logged int
	writeError(w, httptest.NewRequest("POST", "/sessions", nil).WithContext(ctx), slog.New(countHandler{&logged}), err)
	if w.Code != statusClientClosed || logged != 0 {
		t.Fatalf("cancelled request: got %d with %d log lines, want %d unlogged", w.Code, logged, statusClientClosed)
	}
	w = httptest.NewRecorder()
	writeError(w, httptest.NewRequest("POST", "/sessions", nil), slog.New(countHandler{&logged}), err)
	if w.Code != http.StatusInternalServerError || logged != 1 {
		t.Fatalf("live request: got %d with %d log lines, want 500 logged once", w.Code, logged)
	}
}

type countHandler struct{ n *int }

func (h countHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (h countHandler) Handle(context.Context, slog.Record) error { *h.n++; return nil }
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler        { return h }
func (h countHandler) WithGroup(string) slog.Handler             { return h }
