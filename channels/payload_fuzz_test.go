package channels

import (
	"encoding/json"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/videologue/videologue/domain"
)

// FuzzPushPayload: the payloads of phx_join and new_annotation, whatever
// they hold, are either refused with a reason or read into values within
// the rules: last_seen_id and at are integers of 0 or more that are what
// the client wrote, a body is valid UTF-8 (NormalizeBody then bounds it).
func FuzzPushPayload(f *testing.F) {
	f.Add([]byte(`{"last_seen_id":12,"device":"phone"}`), []byte(`{"body":"hello","at":1500}`))
	f.Add([]byte(`{"last_seen_id":-1}`), []byte(`{"body":"x","at":1.5}`))
	f.Add([]byte(`{"last_seen_id":"3"}`), []byte(`{"body":"\ud800","at":"10"}`))
	f.Add([]byte(`null`), []byte(`{"body":{"$gt":""},"at":1e300}`))
	f.Add([]byte(`{"last_seen_id":99999999999999999999}`), []byte(`{"body":"<script>alert(1)</script>","at":0}`))
	f.Fuzz(func(t *testing.T, join, push []byte) {
		if p, err := parseJoinParams(join); err == nil {
			if p.lastSeen < 0 || utf8.RuneCountInString(p.device) > 40 || !utf8.ValidString(p.device) {
				t.Fatalf("join %q read as %+v", join, p)
			}
		}
		var p struct {
			Body json.RawMessage `json:"body"`
			At   json.RawMessage `json:"at"`
		}
		if json.Unmarshal(push, &p) != nil {
			return
		}
		if at, ok := nonNegInt(p.At); ok {
			if at < 0 {
				t.Fatalf("at %q read as %d", p.At, at)
			}
			var n json.Number
			if json.Unmarshal(p.At, &n) != nil || n.String() != strconv.FormatInt(at, 10) {
				t.Fatalf("at %q read as %d", p.At, at)
			}
		}
		if body, err := bodyField(p.Body); err == nil {
			if norm, err := domain.NormalizeBody(body); err == nil && (norm == "" || utf8.RuneCountInString(norm) > domain.MaxBodyLen) {
				t.Fatalf("body %q accepted as %q", p.Body, norm)
			}
		}
	})
}
