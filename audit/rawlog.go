package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/videologue/videologue/eventstore"
)

// WriteLog writes the events of the log with positions in [first, last]
// as NDJSON, one event a line, with everything its hash covers, so that
// anyone can check the chain with tools of their own (the formula is in
// docs/ANALYSTS-AND-AUDITORS.md):
//
//	{"position":7,"stream":"video-1","revision":2,"id":"…","type":"…",
//	 "recorded_at":"2026-11-27T10:00:00.123456789Z","recorded_at_ns":…,
//	 "data":{…},"data_base64":"…","metadata":{…}|null,"metadata_base64":"…",
//	 "previous_hash":"…","hash":"…"}
//
// data and metadata are there to be read (compacted: one event stays one
// line); data_base64 and metadata_base64 are the bytes as stored, which
// are what the hash covers. previous_hash is the stored hash of the event
// before (zeros before the first event of the log), so that a range can
// be checked on its own. Nothing is verified here. The lines hold all the
// log holds, password hashes included: this is for the operator, not for
// a route open to the auditor role.
func WriteLog(ctx context.Context, log Log, w io.Writer, first, last uint64) error {
	first = max(first, 1)
	prev, _, err := before(ctx, log, first)
	if err != nil {
		return fmt.Errorf("audit: log: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	err = eventstore.ScanAll(ctx, log, first, last, func(ev *eventstore.RecordedEvent) error {
		line = appendLogLine(line[:0], ev, prev)
		prev = ev.Hash
		_, err := bw.Write(line)
		return err
	})
	if err != nil {
		return fmt.Errorf("audit: log: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("audit: log: %w", err)
	}
	return nil
}

func appendLogLine(b []byte, ev *eventstore.RecordedEvent, prev [32]byte) []byte {
	b = append(b, `{"position":`...)
	b = strconv.AppendUint(b, ev.Position, 10)
	b = append(b, `,"stream":`...)
	b = appendString(b, ev.Stream)
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, ev.Revision, 10)
	b = append(b, `,"id":`...)
	b = appendString(b, ev.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, ev.Type)
	b = append(b, `,"recorded_at":"`...)
	b = ev.RecordedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","recorded_at_ns":`...)
	b = strconv.AppendInt(b, ev.RecordedAt.UnixNano(), 10)
	b = append(b, `,"data":`...)
	b = appendRaw(b, ev.Data)
	b = append(b, `,"data_base64":"`...)
	b = base64.StdEncoding.AppendEncode(b, ev.Data)
	b = append(b, `","metadata":`...)
	b = appendRaw(b, ev.Metadata)
	b = append(b, `,"metadata_base64":"`...)
	b = base64.StdEncoding.AppendEncode(b, ev.Metadata)
	b = append(b, '"')
	b = append(b, `,"previous_hash":"`...)
	b = hex.AppendEncode(b, prev[:])
	b = append(b, `","hash":"`...)
	b = hex.AppendEncode(b, ev.Hash[:])
	return append(b, "\"}\n"...)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil { // a string always marshals
		panic(err)
	}
	return append(b, q...)
}

// appendRaw appends stored JSON compacted; an empty value is null. Stored
// data is valid JSON (every append is checked by
// eventstore.ValidateAppend); should a backend hold something else, it
// is written as a JSON string rather than break the line.
func appendRaw(b, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return appendString(b, string(raw))
	}
	return append(b, buf.Bytes()...)
}
