package export

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/videologue/videologue/projections"
)

// Collection describes a W3C Web Annotation export of one video.
type Collection struct {
	// ID is the collection's IRI, Label its title.
	ID, Label string
	// Video is the IRI of the video the annotations target.
	Video string
	// AnnotationIRI and UserIRI name an annotation (or a reply) and a
	// user; each resolves to its JSON-LD (see WebAnnotationItem and
	// WebCreator).
	AnnotationIRI func(id int64) string
	UserIRI       func(id int64) string
}

// PageIRI is the IRI of page n (0 is the first) of the collection: its
// IRI with a page query parameter.
func (c Collection) PageIRI(n int64) string {
	sep := "?"
	if strings.Contains(c.ID, "?") {
		sep = "&"
	}
	return c.ID + sep + "page=" + strconv.FormatInt(n, 10)
}

// Item is one annotation of the export: a note on the video, or, with
// ParentID set, a reply to one, which targets its parent's IRI.
type Item struct {
	projections.Annotation
	ParentID int64
	Hidden   bool // a moderator hid it from viewers
}

// ReplyItem is r as an item of the export.
func ReplyItem(r projections.Reply) Item {
	return Item{Annotation: projections.Annotation{ID: r.ID, VideoID: r.VideoID, UserID: r.UserID, Username: r.Username,
		Body: r.Body, PostedAt: r.PostedAt, EditedAt: r.EditedAt, DeletedAt: r.DeletedAt, Deleted: r.Deleted}, ParentID: r.ParentID}
}

// Source is what VideoItems reads: the read models' queries.
type Source interface {
	Hidden(ctx context.Context, vid int64) (map[int64]bool, error)
	Annotations(ctx context.Context, vid int64, fn func(projections.Annotation) error) error
	Replies(ctx context.Context, vid int64, fn func(projections.Reply) error) error
}

// VideoItems yields video vid's live annotations in video-time order,
// then its live replies in the order they were posted, those that
// moderators hid marked so.
func VideoItems(ctx context.Context, src Source, vid int64) Items {
	return func(yield func(Item) error) error {
		hidden, err := src.Hidden(ctx, vid)
		if err != nil {
			return err
		}
		err = src.Annotations(ctx, vid, func(a projections.Annotation) error {
			return yield(Item{Annotation: a, Hidden: hidden[a.ID]})
		})
		if err != nil {
			return err
		}
		return src.Replies(ctx, vid, func(r projections.Reply) error {
			it := ReplyItem(r)
			it.Hidden = hidden[r.ID]
			return yield(it)
		})
	}
}

// Items is the export's items in order: each calls yield for every item
// until yield returns an error, which it returns.
type Items func(yield func(Item) error) error

// Paging cuts a collection of Total items into pages of Size (at most
// MaxPageSize; 0 or less: DefaultPageSize).
type Paging struct {
	Size  int
	Total int64
}

// Page sizes.
const (
	DefaultPageSize = 500
	MaxPageSize     = 1000
)

func (p Paging) size() int64 {
	switch {
	case p.Size <= 0:
		return DefaultPageSize
	case p.Size > MaxPageSize:
		return MaxPageSize
	}
	return int64(p.Size)
}

// Pages is how many pages the collection has: at least one, which may
// be empty.
func (p Paging) Pages() int64 { return max(1, (p.Total+p.size()-1)/p.size()) }

// errPageFull ends an iteration once a page has its items.
var errPageFull = errors.New("page full")

// WebAnnotations writes every item that each yields as a W3C Web
// Annotation collection in JSON-LD (https://www.w3.org/TR/annotation-model/)
// in one page, for a file: an AnnotationCollection whose first
// AnnotationPage holds every item. An annotation is a commenting
// TextualBody targeting the video with a FragmentSelector whose media
// fragment (https://www.w3.org/TR/media-frags/) is its moment, "t=12.5",
// or its stretch, "t=12.5,20"; a reply is a replying TextualBody
// targeting its parent's IRI. Items are written as each yields them, so
// the export streams; the total comes last.
func WebAnnotations(w io.Writer, c Collection, each Items) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	writeHead(bw, c, "AnnotationCollection", c.ID)
	bw.WriteString(`,"label":`)
	writeJSON(bw, c.Label)
	bw.WriteString(`,"first":{"id":`)
	writeJSON(bw, c.PageIRI(0))
	bw.WriteString(`,"type":"AnnotationPage","startIndex":0,"items":[`)
	n, err := writeItems(bw, c, each, 0, -1)
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, `]},"last":%s,"total":%d}`+"\n", quote(c.PageIRI(0)), n)
	return bw.Flush()
}

// WebAnnotationCollection writes the collection of p.Total items as
// JSON-LD with its first page embedded (at most p.Size items of each)
// and the IRIs of its last page: a client follows "next" from page to
// page (see WebAnnotationPage).
func WebAnnotationCollection(w io.Writer, c Collection, p Paging, each Items) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	writeHead(bw, c, "AnnotationCollection", c.ID)
	bw.WriteString(`,"label":`)
	writeJSON(bw, c.Label)
	fmt.Fprintf(bw, `,"total":%d,"last":%s,"first":`, p.Total, quote(c.PageIRI(p.Pages()-1)))
	bw.WriteByte('{')
	if err := writePage(bw, c, p, 0, each, false); err != nil {
		return err
	}
	bw.WriteString("}}\n")
	return bw.Flush()
}

// WebAnnotationPage writes page n of the collection as a document of its
// own: an AnnotationPage with its id, "partOf" the collection, its
// startIndex, "prev" and "next" where they exist, and its items.
func WebAnnotationPage(w io.Writer, c Collection, p Paging, n int64, each Items) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	writeHead(bw, c, "AnnotationPage", "")
	bw.WriteByte(',')
	if err := writePage(bw, c, p, n, each, true); err != nil {
		return err
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// WebAnnotationItem writes one annotation or reply as a JSON-LD document
// of its own: what its IRI resolves to.
func WebAnnotationItem(w io.Writer, c Collection, it Item) error {
	o := webAnnotation(c, it)
	o["@context"] = contextIRI
	return encode(w, o)
}

// WebCreator writes user id, named username, as the JSON-LD Person its
// IRI resolves to.
func WebCreator(w io.Writer, c Collection, id int64, username string) error {
	return encode(w, jsonObject{"@context": contextIRI, "id": c.UserIRI(id), "type": "Person", "nickname": username})
}

const contextIRI = "http://www.w3.org/ns/anno.jsonld"

func writeHead(bw *bufio.Writer, c Collection, typ, id string) {
	bw.WriteString(`{"@context":"` + contextIRI + `"`)
	if id != "" {
		bw.WriteString(`,"id":`)
		writeJSON(bw, id)
	}
	bw.WriteString(`,"type":"` + typ + `"`)
}

// writePage writes the members of page n, without its braces.
func writePage(bw *bufio.Writer, c Collection, p Paging, n int64, each Items, alone bool) error {
	last := p.Pages() - 1
	fmt.Fprintf(bw, `"id":%s`, quote(c.PageIRI(n)))
	if !alone {
		bw.WriteString(`,"type":"AnnotationPage"`)
	} else {
		fmt.Fprintf(bw, `,"partOf":{"id":%s,"type":"AnnotationCollection","total":%d}`, quote(c.ID), p.Total)
	}
	if n > 0 {
		fmt.Fprintf(bw, `,"prev":%s`, quote(c.PageIRI(min(n-1, last))))
	}
	if n < last {
		fmt.Fprintf(bw, `,"next":%s`, quote(c.PageIRI(n+1)))
	}
	fmt.Fprintf(bw, `,"startIndex":%d,"items":[`, n*p.size())
	if _, err := writeItems(bw, c, each, n*p.size(), p.size()); err != nil {
		return err
	}
	bw.WriteByte(']')
	return nil
}

// writeItems writes the items of each from index skip on, at most limit
// of them (all, for a negative limit), and returns how many it wrote.
func writeItems(bw *bufio.Writer, c Collection, each Items, skip, limit int64) (int64, error) {
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var seen, n int64
	err := each(func(it Item) error {
		if seen++; seen <= skip {
			return nil
		}
		if limit >= 0 && n >= limit {
			return errPageFull
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		n++
		return enc.Encode(webAnnotation(c, it))
	})
	if errors.Is(err, errPageFull) {
		err = nil
	}
	return n, err
}

func writeJSON(bw *bufio.Writer, v any) { b, _ := json.Marshal(v); bw.Write(b) }

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func encode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

type jsonObject = map[string]any

// HiddenProperty marks, with true, an annotation that a moderator hid
// from viewers: the auditors' export keeps it, marked. The Web
// Annotation vocabulary has no such term, so the key is an absolute IRI,
// which JSON-LD keeps as it is.
const HiddenProperty = "urn:videologue:moderation#hidden"

// webAnnotation is it as a W3C annotation.
func webAnnotation(c Collection, it Item) jsonObject {
	a := it.Annotation
	o := jsonObject{
		"id":         c.AnnotationIRI(a.ID),
		"type":       "Annotation",
		"motivation": "commenting",
		"created":    a.PostedAt.UTC().Format(time.RFC3339Nano),
		"creator": jsonObject{
			"id":       c.UserIRI(a.UserID),
			"type":     "Person",
			"nickname": a.Username,
		},
		"body": jsonObject{
			"type":    "TextualBody",
			"value":   a.Body,
			"format":  "text/plain",
			"purpose": "commenting",
		},
		"target": jsonObject{
			"source": c.Video,
			"selector": jsonObject{
				"type":       "FragmentSelector",
				"conformsTo": "http://www.w3.org/TR/media-frags/",
				"value":      MediaFragmentSpan(a.At, a.Duration),
			},
		},
	}
	if it.ParentID != 0 {
		o["motivation"] = "replying"
		o["body"].(jsonObject)["purpose"] = "replying"
		o["target"] = c.AnnotationIRI(it.ParentID)
	}
	if !a.EditedAt.IsZero() {
		o["modified"] = a.EditedAt.UTC().Format(time.RFC3339Nano)
	}
	if it.Hidden {
		o[HiddenProperty] = true
	}
	return o
}

// MediaFragment is the temporal media fragment of a moment in
// milliseconds: "t=12.5".
func MediaFragment(ms int64) string {
	return "t=" + strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)
}

// MediaFragmentSpan is the temporal media fragment of a stretch of
// duration milliseconds from ms, "t=12.5,20", or of the moment ms when
// duration is 0.
func MediaFragmentSpan(ms, duration int64) string {
	if duration <= 0 {
		return MediaFragment(ms)
	}
	return MediaFragment(ms) + "," + strconv.FormatFloat(float64(ms+duration)/1000, 'f', -1, 64)
}
