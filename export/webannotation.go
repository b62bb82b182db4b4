package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/videologue/videologue/projections"
)

// Collection describes a W3C Web Annotation export of one video.
type Collection struct {
	// ID is the collection's IRI, Label its title.
	ID, Label string
	// Video is the IRI of the video the annotations target.
	Video string
	// AnnotationIRI and UserIRI name an annotation and a user.
	AnnotationIRI func(id int64) string
	UserIRI       func(id int64) string
}

// WebAnnotations writes the annotations that each yields as a W3C Web
// Annotation collection in JSON-LD (https://www.w3.org/TR/annotation-model/):
// an AnnotationCollection whose first AnnotationPage holds every
// annotation, each a commenting TextualBody targeting the video with a
// FragmentSelector whose media fragment (https://www.w3.org/TR/media-frags/)
// is the annotation's moment, "t=12.5", or its stretch, "t=12.5,20". Items are written as each yields
// them, so the export streams; the total comes last.
func WebAnnotations(w io.Writer, c Collection, each func(yield func(projections.Annotation) error) error) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	head, _ := json.Marshal(map[string]any{
		"@context": "http://www.w3.org/ns/anno.jsonld",
		"id":       c.ID,
		"type":     "AnnotationCollection",
		"label":    c.Label,
	})
	// Open the object and its first page; items follow.
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"first":{"type":"AnnotationPage","items":[`)
	n := 0
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err := each(func(a projections.Annotation) error {
		if n > 0 {
			bw.WriteByte(',')
		}
		n++
		return enc.Encode(webAnnotation(c, a))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, `]},"total":%d}`+"\n", n)
	return bw.Flush()
}

type jsonObject = map[string]any

func webAnnotation(c Collection, a projections.Annotation) jsonObject {
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
	if !a.EditedAt.IsZero() {
		o["modified"] = a.EditedAt.UTC().Format(time.RFC3339Nano)
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
