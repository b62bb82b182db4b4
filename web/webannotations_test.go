package web

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/videologue/videologue/annotations"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/export"
)

// TestWebAnnotationExportPagedWithReplies: over HTTP, the auditors'
// export is paged (the collection's first page embedded, last, total,
// ?page=N alone with partOf, next and prev), holds the replies as
// replying annotations targeting their parent, and every annotation's,
// reply's and creator's IRI in it resolves to its JSON-LD; a deleted
// reply's IRI is 410, an unknown id 404, a bad page 400, and each needs
// the auditor role.
func TestWebAnnotationExportPagedWithReplies(t *testing.T) {
	e := newAnalysisEnv(t) // three notes of carol's on video 1
	svc := annotations.New(e.store, nil, nil)
	ctx, meta := t.Context(), eventstore.Metadata{}
	const notes = export.DefaultPageSize + 20
	for i := range notes - 3 {
		if _, err := svc.Post(ctx, 1, e.ids["carol"], "carol", "note "+strconv.Itoa(i), int64(i), meta); err != nil {
			t.Fatal(err)
		}
	}
	reply, err := svc.Reply(ctx, 1, 1, e.ids["dave"], "dave", "a reply to the first", meta)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := svc.Reply(ctx, 1, 2, e.ids["dave"], "dave", "withdrawn", meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteReplySeen(ctx, 1, gone, e.ids["dave"], -1, meta); err != nil {
		t.Fatal(err)
	}
	e.sync()

	type page struct {
		Context    string `json:"@context"`
		ID         string
		Type       string
		Next, Prev string
		StartIndex int
		PartOf     struct {
			ID    string
			Total int
		}
		Items []struct {
			ID, Motivation string
			Target         json.RawMessage
			Creator        struct{ ID string }
		}
	}
	var coll struct {
		ID, Type, Last string
		Total          int
		First          page
	}
	code, h, body := e.get("bob", "/api/videos/1/annotations.jsonld")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/ld+json") || json.Unmarshal([]byte(body), &coll) != nil {
		t.Fatalf("collection: %d %.300s", code, body)
	}
	base := analysisPublicURL + "/api/videos/1/annotations.jsonld"
	if coll.Type != "AnnotationCollection" || coll.Total != notes+1 || coll.Last != base+"?page=1" ||
		coll.First.ID != base+"?page=0" || coll.First.Next != base+"?page=1" || len(coll.First.Items) != export.DefaultPageSize {
		t.Fatalf("collection: total %d, last %q, first %q next %q with %d items", coll.Total, coll.Last, coll.First.ID, coll.First.Next, len(coll.First.Items))
	}
	var second page
	code, _, body = e.get("bob", "/api/videos/1/annotations.jsonld?page=1")
	if code != 200 || json.Unmarshal([]byte(body), &second) != nil {
		t.Fatalf("page 1: %d %.300s", code, body)
	}
	if second.Context != "http://www.w3.org/ns/anno.jsonld" || second.Type != "AnnotationPage" || second.ID != base+"?page=1" || second.Prev != base+"?page=0" ||
		second.Next != "" || second.PartOf.ID != base || second.StartIndex != export.DefaultPageSize || len(second.Items) != notes+1-export.DefaultPageSize {
		t.Fatalf("page 1: %+v", second)
	}
	last := second.Items[len(second.Items)-1]
	parentIRI := analysisPublicURL + "/api/videos/1/annotations/1"
	if last.ID != analysisPublicURL+"/api/videos/1/annotations/"+strconv.FormatInt(reply, 10) || last.Motivation != "replying" || string(last.Target) != strconv.Quote(parentIRI) {
		t.Fatalf("the reply: %+v", last)
	}
	for _, q := range []string{"?page=2", "?page=-1", "?page=x"} {
		if code, _, body := e.get("bob", "/api/videos/1/annotations.jsonld"+q); code != 400 || !strings.Contains(body, "page must be") {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}

	// The IRIs resolve.
	path := func(iri string) string { return strings.TrimPrefix(iri, analysisPublicURL) }
	for _, iri := range []string{parentIRI, last.ID} {
		code, h, body := e.get("bob", path(iri))
		var doc struct {
			Context    string `json:"@context"`
			ID, Type   string
			Motivation string
		}
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/ld+json") || json.Unmarshal([]byte(body), &doc) != nil ||
			doc.Context != "http://www.w3.org/ns/anno.jsonld" || doc.ID != iri || doc.Type != "Annotation" {
			t.Fatalf("GET %s: %d %s", iri, code, body)
		}
	}
	code, _, body = e.get("bob", path(last.Creator.ID))
	var person struct{ ID, Type, Nickname string }
	if code != 200 || json.Unmarshal([]byte(body), &person) != nil || person.ID != last.Creator.ID || person.Type != "Person" || person.Nickname != "dave" {
		t.Fatalf("GET %s: %d %s", last.Creator.ID, code, body)
	}
	for p, want := range map[string]int{
		"/api/videos/1/annotations/" + strconv.FormatInt(gone, 10): 410,
		"/api/videos/1/annotations/99999":                          404,
		"/api/videos/1/annotations/x":                              404,
		"/users/99999":                                             404,
	} {
		if code, _, body := e.get("bob", p); code != want {
			t.Errorf("GET %s: %d, want %d: %s", p, code, want, body)
		}
	}
	for _, p := range []string{path(parentIRI), path(last.Creator.ID)} {
		for user, want := range map[string]int{"": 401, "carol": 403, "alice": 403} {
			if code, _, _ := e.get(user, p); code != want {
				t.Errorf("GET %s as %q: %d, want %d", p, user, code, want)
			}
		}
	}
}
