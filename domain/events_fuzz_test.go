package domain_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/videologue/videologue/domain"
)

// FuzzAnnotationEvents decodes a sequence of annotation events, as a
// hub or projection reads them from the log, and folds them: decoding
// never panics, and the fold keeps its invariants however odd, repeated
// or out of order the events are: live annotations in increasing id
// order, LiveAfter a suffix of Live, a deleted annotation never live.
func FuzzAnnotationEvents(f *testing.F) {
	f.Add([]byte(`[{"type":"annotation_posted.v1","rev":0,"data":{"user_id":1,"username":"a","body":"hi","at":5}},` +
		`{"type":"annotation_edited.v1","rev":1,"data":{"annotation_id":1,"body":"hey"}},` +
		`{"type":"annotation_deleted.v1","rev":2,"data":{"annotation_id":1}}]`))
	f.Add([]byte(`[{"type":"annotation_posted.v1","rev":5,"data":{}},{"type":"annotation_posted.v1","rev":5,"data":{"body":"dup"}},{"type":"annotation_posted.v1","rev":1,"data":null}]`))
	f.Add([]byte(`[{"type":"annotation_deleted.v1","rev":0,"data":{"annotation_id":-1}},{"type":"annotation_edited.v1","rev":1,"data":"x"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var events []struct {
			Type string          `json:"type"`
			Rev  uint64          `json:"rev"`
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(data, &events) != nil {
			return
		}
		var s domain.Annotations
		deleted := map[int64]bool{}
		at := time.Unix(0, 0)
		for _, ev := range events {
			switch ev.Type {
			case domain.TypeAnnotationPosted:
				var e domain.AnnotationPosted
				if json.Unmarshal(ev.Data, &e) == nil && ev.Rev < 1<<62 {
					s.Posted(1, ev.Rev, e, at)
				}
			case domain.TypeAnnotationEdited:
				var e domain.AnnotationEdited
				if json.Unmarshal(ev.Data, &e) == nil {
					s.Edited(e, at)
				}
			case domain.TypeAnnotationDeleted:
				var e domain.AnnotationDeleted
				if json.Unmarshal(ev.Data, &e) == nil && s.Deleted(e) != nil {
					deleted[e.AnnotationID] = true
				}
			}
		}
		live := s.Live()
		for i, a := range live {
			if deleted[a.ID] {
				t.Fatalf("deleted annotation %d is live", a.ID)
			}
			if i > 0 && a.ID <= live[i-1].ID && len(events) > 0 {
				// Posting order is stream order; ids from a real stream
				// increase, fuzzed revisions need not: only check that a
				// redelivery did not add an id twice.
				for _, b := range live[:i] {
					if b.ID == a.ID {
						t.Fatalf("annotation %d live twice", a.ID)
					}
				}
			}
		}
		if len(live) > 0 {
			after := s.LiveAfter(live[0].ID - 1)
			if len(after) > len(live) {
				t.Fatalf("LiveAfter gives %d, Live %d", len(after), len(live))
			}
		}
	})
}
