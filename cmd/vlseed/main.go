// Command vlseed gives a video a long history for the catch-up
// benchmarks (docs/BENCHMARKS.md): it appends N annotations to the video's
// stream in the embedded log of a stopped server, in large batches, much
// faster than posting them one by one.
//
//	vlseed --data ./data --video 1 --user 1 --n 1000000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vlseed:", err)
		os.Exit(1)
	}
}

func run(args []string) (err error) {
	fs := flag.NewFlagSet("vlseed", flag.ContinueOnError)
	data := fs.String("data", "./data", "directory of the embedded event log (the server must be stopped)")
	video := fs.Int64("video", 0, "id of an existing video")
	user := fs.Int64("user", 0, "id of the user the annotations are by")
	username := fs.String("username", "vlseed", "their username")
	n := fs.Int("n", 100000, "annotations to append")
	body := fs.Int("body", 80, "bytes of each annotation's body")
	batch := fs.Int("batch", 1000, "annotations per append")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *video <= 0 || *user <= 0 || *n < 1 || *batch < 1 || *body < 1 || *body > domain.MaxBodyLen {
		return errors.New("need --video, --user, --n >= 1, --batch >= 1, --body from 1 to the body limit")
	}
	st, err := pebble.Open(*data, pebble.Config{}, nil)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); err == nil {
			err = cerr
		}
	}()
	ctx := context.Background()
	start := time.Now()
	pad := strings.Repeat("x", *body)
	for done := 0; done < *n; {
		events := make([]eventstore.EventData, 0, min(*batch, *n-done))
		for range cap(events) {
			text := strconv.Itoa(done) + " " + pad
			b, err := json.Marshal(domain.AnnotationPosted{UserID: *user, Username: *username, Body: text[:*body], At: int64(done % 3_600_000)})
			if err != nil {
				return err
			}
			events = append(events, eventstore.EventData{Type: domain.TypeAnnotationPosted, Data: b})
			done++
		}
		if _, err := st.Append(ctx, domain.VideoStream(*video), eventstore.Any, events...); err != nil {
			return fmt.Errorf("append: %w", err)
		}
	}
	fmt.Printf("appended %d annotations to video %d in %v\n", *n, *video, time.Since(start).Round(time.Millisecond))
	return nil
}
