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

type countHandler struct{ n *int }

func (h countHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (h countHandler) Handle(context.Context, slog.Record) error { *h.n++; return nil }
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler        { return h }
func (h countHandler) WithGroup(string) slog.Handler             { return h }
