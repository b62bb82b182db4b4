package export_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/piprate/json-gold/ld"

	"github.com/videologue/videologue/export"
	"github.com/videologue/videologue/projections"
)

const annoContext = "http://www.w3.org/ns/anno.jsonld"

var collection = export.Collection{ID: "https://v.example/api/videos/9/annotations.jsonld", Label: "Talk", Video: "https://cdn.example/talk.mp4",
	AnnotationIRI: func(id int64) string { return fmt.Sprintf("https://v.example/api/videos/9/annotations/%d", id) },
	UserIRI:       func(id int64) string { return fmt.Sprintf("https://v.example/users/%d", id) }}

// threadItems is n notes, each but every third with a reply, then the
// replies, as the site yields them.
func threadItems(n int) []export.Item {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var notes, replies []export.Item
	id := int64(0)
	for i := range n {
		id++
		notes = append(notes, export.Item{Annotation: projections.Annotation{ID: id, VideoID: 9, UserID: 2, Username: "ann", Body: fmt.Sprintf("note %d", i), At: int64(i) * 250, Duration: int64(i%2) * 1000, PostedAt: t0}})
		if i%3 != 0 {
			id++
			replies = append(replies, export.ReplyItem(projections.Reply{ID: id, VideoID: 9, ParentID: id - 1, UserID: 3, Username: "bob", Body: "re " + fmt.Sprint(i), PostedAt: t0.Add(time.Second)}))
		}
	}
	return append(notes, replies...)
}

func yieldAll(items []export.Item) export.Items {
	return func(yield func(export.Item) error) error {
		for _, it := range items {
			if err := yield(it); err != nil {
				return err
			}
		}
		return nil
	}
}

var mediaFrag = regexp.MustCompile(`^t=(npt:)?\d+(\.\d+)?(,\d+(\.\d+)?)?$`)

// checkAnnotation applies the Web Annotation model's MUST rules
// (https://www.w3.org/TR/annotation-model/) to one annotation: an id
// that is an IRI, the type Annotation, a target, a body that is a
// TextualBody with a value; a FragmentSelector conforming to media
// fragments with a temporal value; a reply's motivation replying and
// its target the parent's IRI.
func checkAnnotation(t *testing.T, a map[string]any, ids map[string]bool) {
	t.Helper()
	id, _ := a["id"].(string)
	if !strings.HasPrefix(id, "https://") {
		t.Fatalf("id %q is not an IRI: %v", id, a)
	}
	if a["type"] != "Annotation" {
		t.Fatalf("type %v", a["type"])
	}
	if _, ok := a["target"]; !ok {
		t.Fatalf("no target: %v", a)
	}
	body, _ := a["body"].(map[string]any)
	if body["type"] != "TextualBody" || body["value"] == nil || body["format"] != "text/plain" {
		t.Fatalf("body %v", a["body"])
	}
	if c, ok := a["creator"].(map[string]any); !ok || c["type"] != "Person" || !strings.HasPrefix(fmt.Sprint(c["id"]), "https://") {
		t.Fatalf("creator %v", a["creator"])
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(a["created"])); err != nil {
		t.Fatalf("created %v", a["created"])
	}
	switch a["motivation"] {
	case "commenting":
		target, _ := a["target"].(map[string]any)
		sel, _ := target["selector"].(map[string]any)
		if target["source"] != collection.Video || sel["type"] != "FragmentSelector" || sel["conformsTo"] != "http://www.w3.org/TR/media-frags/" || !mediaFrag.MatchString(fmt.Sprint(sel["value"])) {
			t.Fatalf("target %v", a["target"])
		}
	case "replying":
		parent, _ := a["target"].(string)
		if !ids[parent] || body["purpose"] != "replying" {
			t.Fatalf("a reply targets %q, not an annotation of the collection (%v)", parent, a)
		}
	default:
		t.Fatalf("motivation %v", a["motivation"])
	}
}

// TestWebAnnotationPages: a collection of notes and replies, paged, walked
// from its first page by next to its last, each page an AnnotationPage
// with its id, partOf, startIndex and at most a page's items, every item
// passing the model's MUST rules, every item once, in order.
func TestWebAnnotationPages(t *testing.T) {
	items := threadItems(20) // 20 notes, 13 replies
	p := export.Paging{Size: 7, Total: int64(len(items))}
	all := map[string]bool{}
	for _, it := range items {
		all[collection.AnnotationIRI(it.ID)] = true
	}
	var buf bytes.Buffer
	if err := export.WebAnnotationCollection(&buf, collection, p, yieldAll(items)); err != nil {
		t.Fatal(err)
	}
	var coll map[string]any
	if err := json.Unmarshal(buf.Bytes(), &coll); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if coll["@context"] != annoContext || coll["id"] != collection.ID || coll["type"] != "AnnotationCollection" ||
		coll["total"] != float64(len(items)) || coll["last"] != collection.PageIRI(4) || coll["label"] != "Talk" {
		t.Fatalf("collection %v", coll)
	}
	page, _ := coll["first"].(map[string]any)
	var got []string
	for n := int64(0); ; n++ {
		if page["id"] != collection.PageIRI(n) || page["type"] != "AnnotationPage" || page["startIndex"] != float64(n*7) {
			t.Fatalf("page %d: %v", n, page)
		}
		list, _ := page["items"].([]any)
		if len(list) == 0 || len(list) > 7 {
			t.Fatalf("page %d holds %d items", n, len(list))
		}
		for _, x := range list {
			a, _ := x.(map[string]any)
			checkAnnotation(t, a, all)
			got = append(got, a["id"].(string))
		}
		if n > 0 && page["prev"] != collection.PageIRI(n-1) {
			t.Fatalf("page %d's prev is %v", n, page["prev"])
		}
		next, ok := page["next"].(string)
		if !ok {
			if n != 4 {
				t.Fatalf("page %d has no next", n)
			}
			break
		}
		if next != collection.PageIRI(n+1) {
			t.Fatalf("page %d's next is %q", n, next)
		}
		buf.Reset()
		if err := export.WebAnnotationPage(&buf, collection, p, n+1, yieldAll(items)); err != nil {
			t.Fatal(err)
		}
		page = nil
		if err := json.Unmarshal(buf.Bytes(), &page); err != nil {
			t.Fatalf("%v\n%s", err, buf.String())
		}
		part, _ := page["partOf"].(map[string]any)
		if page["@context"] != annoContext || part["id"] != collection.ID || part["total"] != float64(len(items)) {
			t.Fatalf("page %d stands alone as %v", n+1, page)
		}
	}
	if len(got) != len(items) {
		t.Fatalf("the pages hold %d items, want %d", len(got), len(items))
	}
	for i, it := range items {
		if got[i] != collection.AnnotationIRI(it.ID) {
			t.Fatalf("item %d is %s, want %s", i, got[i], collection.AnnotationIRI(it.ID))
		}
	}
	// The default page size is bounded.
	if (export.Paging{Size: 1 << 20, Total: 1 << 20}).Pages() != (1<<20+export.MaxPageSize-1)/export.MaxPageSize {
		t.Fatal("a page size above the bound is not capped")
	}
}

// localLoader serves the Web Annotation context from testdata, and
// nothing else: no test reaches the network.
type localLoader struct{ t *testing.T }

func (l localLoader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	if u != annoContext && u != "https://www.w3.org/ns/anno.jsonld" {
		l.t.Fatalf("the processor asked for %s", u)
	}
	f, err := os.Open("testdata/anno.jsonld")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := ld.DocumentFromReader(f)
	if err != nil {
		return nil, err
	}
	return &ld.RemoteDocument{DocumentURL: u, Document: doc}, nil
}

// TestWebAnnotationsJSONLD: the collection, a page, an annotation, a
// reply and a creator, expanded by a JSON-LD processor with the W3C
// context: each term maps to the vocabulary's IRI (oa:, as:, foaf:,
// dcterms:), so a consumer that reads RDF reads what the JSON says.
func TestWebAnnotationsJSONLD(t *testing.T) {
	const (
		oa      = "http://www.w3.org/ns/oa#"
		as      = "http://www.w3.org/ns/activitystreams#"
		dcterms = "http://purl.org/dc/terms/"
	)
	proc := ld.NewJsonLdProcessor()
	opts := ld.NewJsonLdOptions("")
	opts.DocumentLoader = localLoader{t}
	expand := func(raw []byte) []any {
		t.Helper()
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		out, err := proc.Expand(doc, opts)
		if err != nil {
			t.Fatalf("expand: %v\n%s", err, raw)
		}
		return out
	}
	items := threadItems(4)
	var buf bytes.Buffer
	if err := export.WebAnnotationCollection(&buf, collection, export.Paging{Size: 3, Total: int64(len(items))}, yieldAll(items)); err != nil {
		t.Fatal(err)
	}
	coll := expand(buf.Bytes())[0].(map[string]any)
	if !hasType(coll, as+"OrderedCollection") || idOf(coll[as+"last"]) != collection.PageIRI(1) || valueOf(coll[as+"totalItems"]) != "6" {
		t.Fatalf("collection expands to %v", coll)
	}
	first := coll[as+"first"].([]any)[0].(map[string]any)
	if !hasType(first, as+"OrderedCollectionPage") || first["@id"] != collection.PageIRI(0) || idOf(first[as+"next"]) != collection.PageIRI(1) {
		t.Fatalf("first page expands to %v", first)
	}
	list := first[as+"items"].([]any)[0].(map[string]any)["@list"].([]any)
	if len(list) != 3 {
		t.Fatalf("first page's list %v", list)
	}
	note := list[0].(map[string]any)
	if !hasType(note, oa+"Annotation") || idOf(note[oa+"motivatedBy"]) != oa+"commenting" {
		t.Fatalf("annotation expands to %v", note)
	}
	target := note[oa+"hasTarget"].([]any)[0].(map[string]any)
	sel := target[oa+"hasSelector"].([]any)[0].(map[string]any)
	if idOf(target[oa+"hasSource"]) != collection.Video || !hasType(sel, oa+"FragmentSelector") ||
		idOf(sel[dcterms+"conformsTo"]) != "http://www.w3.org/TR/media-frags/" || valueOf(sel["http://www.w3.org/1999/02/22-rdf-syntax-ns#value"]) != "t=0" {
		t.Fatalf("target expands to %v", target)
	}
	body := note[oa+"hasBody"].([]any)[0].(map[string]any)
	if !hasType(body, oa+"TextualBody") || idOf(body[oa+"hasPurpose"]) != oa+"commenting" {
		t.Fatalf("body expands to %v", body)
	}
	creator := note[dcterms+"creator"].([]any)[0].(map[string]any)
	if !hasType(creator, "http://xmlns.com/foaf/0.1/Person") || valueOf(creator["http://xmlns.com/foaf/0.1/nick"]) != "ann" {
		t.Fatalf("creator expands to %v", creator)
	}

	// A reply, alone, as its IRI resolves: replying, targeting its parent.
	var reply export.Item
	for _, it := range items {
		if it.ParentID != 0 {
			reply = it
			break
		}
	}
	buf.Reset()
	if err := export.WebAnnotationItem(&buf, collection, reply); err != nil {
		t.Fatal(err)
	}
	r := expand(buf.Bytes())[0].(map[string]any)
	if r["@id"] != collection.AnnotationIRI(reply.ID) || idOf(r[oa+"motivatedBy"]) != oa+"replying" || idOf(r[oa+"hasTarget"]) != collection.AnnotationIRI(reply.ParentID) {
		t.Fatalf("reply expands to %v", r)
	}
	buf.Reset()
	if err := export.WebCreator(&buf, collection, 3, "bob"); err != nil {
		t.Fatal(err)
	}
	p := expand(buf.Bytes())[0].(map[string]any)
	if p["@id"] != collection.UserIRI(3) || !hasType(p, "http://xmlns.com/foaf/0.1/Person") {
		t.Fatalf("creator expands to %v", p)
	}
	buf.Reset()
	if err := export.WebAnnotationPage(&buf, collection, export.Paging{Size: 3, Total: int64(len(items))}, 1, yieldAll(items)); err != nil {
		t.Fatal(err)
	}
	pg := expand(buf.Bytes())[0].(map[string]any)
	if pg["@id"] != collection.PageIRI(1) || idOf(pg[as+"prev"]) != collection.PageIRI(0) || idOf(pg[as+"partOf"]) != collection.ID || valueOf(pg[as+"startIndex"]) != "3" {
		t.Fatalf("page expands to %v", pg)
	}
}

func hasType(o map[string]any, typ string) bool {
	ts, _ := o["@type"].([]any)
	for _, x := range ts {
		if x == typ {
			return true
		}
	}
	return false
}

// idOf is the @id of a property's first value.
func idOf(v any) string {
	list, _ := v.([]any)
	if len(list) == 0 {
		return ""
	}
	m, _ := list[0].(map[string]any)
	s, _ := m["@id"].(string)
	return s
}

// valueOf is the @value of a property's first value, as text.
func valueOf(v any) string {
	list, _ := v.([]any)
	if len(list) == 0 {
		return ""
	}
	m, _ := list[0].(map[string]any)
	return fmt.Sprint(m["@value"])
}
