package channels

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/internal/jsontext"
)

// subscription is one join of a video channel on a connection.
type subscription struct {
	c           *conn
	hub         *hub
	topic       string
	joinRef     string
	videoID     int64
	presenceRef string
	device      string

	// isModerator: the user had the role when they joined, and still had
	// it at the last moderators' push (see stillModerator); they are sent
	// which items have open reports (see hub.foldModeration).
	isModerator bool
	// reactionsWindow: sent one reactions_window push per window instead
	// of a reactions push per item (the join's reactions_window).
	reactionsWindow bool
	lastRev         int64       // last video revision delivered; guarded by hub.mu
	gone            atomic.Bool // the hub failed and dropped the subscription
	// While its history is being sent (see catchUp), guarded by hub.mu:
	// where it is, and the paging goroutine's stop and end.
	catchUp *catchUp
	stop    chan struct{}
	paged   chan struct{}

	// Owned by the connection's handler.
	tracked bool // its ViewerJoined is in the log
	ended   bool
}

// parseVideoTopic reads "videos:<id>".
func parseVideoTopic(topic string) (int64, bool) {
	rest, ok := strings.CutPrefix(topic, "videos:")
	if !ok {
		return 0, false
	}
	return parseID(rest)
}

// joinParams are what a client may say when it joins.
type joinParams struct {
	lastSeen int64
	lastRev  int64 // last_seen_rev: the last client revision applied
	hasRev   bool
	device   string
	// reactionsWindow: the client takes a window's counts as one
	// reactions_window push (see hub.flushReactions).
	reactionsWindow bool
}

func parseJoinParams(payload json.RawMessage) (joinParams, error) {
	if err := checkEscapes(payload); err != nil {
		return joinParams{}, err
	}
	var raw struct {
		LastSeen json.RawMessage `json:"last_seen_id"`
		LastRev  json.RawMessage `json:"last_seen_rev"`
		Device   json.RawMessage `json:"device"`
		Window   json.RawMessage `json:"reactions_window"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return joinParams{}, refuse("join params must be an object")
	}
	var p joinParams
	if len(raw.LastSeen) > 0 && string(raw.LastSeen) != "null" {
		n, ok := nonNegInt(raw.LastSeen)
		if !ok {
			return joinParams{}, refuse("last_seen_id must be an integer of 0 or more")
		}
		p.lastSeen = n
	}
	if len(raw.LastRev) > 0 && string(raw.LastRev) != "null" {
		n, ok := nonNegInt(raw.LastRev)
		if !ok {
			return joinParams{}, refuse("last_seen_rev must be an integer of 0 or more")
		}
		p.lastRev, p.hasRev = n, true
	}
	if len(raw.Device) > 0 && string(raw.Device) != "null" {
		var d string
		if json.Unmarshal(raw.Device, &d) != nil {
			return joinParams{}, refuse("device must be a string")
		}
		p.device = shortText(d, 40)
	}
	if len(raw.Window) > 0 && string(raw.Window) != "null" {
		if json.Unmarshal(raw.Window, &p.reactionsWindow) != nil {
			return joinParams{}, refuse("reactions_window must be true or false")
		}
	}
	return p, nil
}

// checkEscapes refuses a payload with an escaped lone surrogate, which
// encoding/json would turn into U+FFFD: what is stored must be what was
// sent.
func checkEscapes(payload json.RawMessage) error {
	if _, lone := jsontext.LoneSurrogate(payload); lone {
		return errLoneSurrogate
	}
	return nil
}

// historyRewoundError refuses a rejoin whose last_seen_id or
// last_seen_rev is beyond the video's head: the client saw history that
// the log no longer holds (a log that lost its tail, a restored backup).
// Catching it up from there would skip the posts that reuse those
// positions; the client must drop what it shows and join afresh.
type historyRewoundError struct {
	head int64 // the video's client revision now, as join replies carry it
}

func (e *historyRewoundError) Error() string {
	return "history_rewound: the video's history now ends at revision " + strconv.FormatInt(e.head, 10)
}

// reply is the phx_reply error payload: {"reason":"history_rewound","head":N}.
func (e *historyRewoundError) reply() []byte {
	return []byte(`{"status":"error","response":{"reason":"history_rewound","head":` + strconv.FormatInt(e.head, 10) + `}}`)
}

// checkRewound refuses p when it claims more of the video than head, the
// video's client revision (the number of events in its stream): no
// annotation id and no revision a client was sent can exceed it.
func checkRewound(p joinParams, head int64) error {
	if p.lastSeen > head || (p.hasRev && p.lastRev > head) {
		return &historyRewoundError{head: head}
	}
	return nil
}

// streamReader is the part of the log that checkRewound reads when a
// claim exceeds the hub's fold; a Store without it is judged by the fold.
type streamReader interface {
	ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, limit int) ([]eventstore.RecordedEvent, error)
}

// checkRewound refuses p when it claims more of the video than the log
// holds. The hub's fold may trail the log by a moment (a client may hold
// the id of its own post before the hub has read it), so a claim beyond
// the fold is checked against the stream's head in the log; the events in
// between reach the subscription as pushes.
func (h *hub) checkRewound(ctx context.Context, p joinParams) error {
	h.mu.Lock()
	head := h.rev + 1
	h.mu.Unlock()
	err := checkRewound(p, head)
	r, ok := h.srv.deps.Store.(streamReader)
	if err == nil || !ok {
		return err
	}
	evs, rerr := r.ReadStream(ctx, domain.VideoStream(h.videoID), eventstore.Backwards, eventstore.End, 1)
	if rerr != nil {
		return rerr
	}
	head = 0
	if len(evs) > 0 {
		head = int64(evs[0].Revision) + 1
	}
	return checkRewound(p, head)
}

// nonNegInt reads a JSON integer of 0 or more that fits an int64: not a
// string, not a fraction (1.0 included), not an exponent.
func nonNegInt(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.ContainsAny(raw, ".eE") {
		return 0, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return n, err == nil && n >= 0
}

// shortText trims s to at most n runes of printable text.
func shortText(s string, n int) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s))
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n])
	}
	return s
}

// deviceFromUserAgent names a device class for presence when the client
// did not name one.
func deviceFromUserAgent(ua string) string {
	switch {
	case ua == "":
		return "unknown"
	case strings.Contains(ua, "iPad") || strings.Contains(ua, "Tablet"):
		return "tablet"
	case strings.Contains(ua, "Mobi") || strings.Contains(ua, "Android") || strings.Contains(ua, "iPhone"):
		return "mobile"
	case strings.HasPrefix(ua, "Mozilla/"):
		return "desktop"
	default:
		return "app"
	}
}

// handleIn runs a client push on the channel and replies to it.
func (s *subscription) handleIn(ctx context.Context, f *inbound) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := checkEscapes(f.payload); err != nil {
		s.c.replyErr(f, err)
		return
	}
	ok := okEmpty
	var err error
	switch f.event {
	case "new_annotation":
		var id int64
		if id, err = s.post(ctx, f.payload); err == nil {
			ok = replyOK([]byte(`{"id":` + strconv.FormatInt(id, 10) + `}`))
		}
	case "edit_annotation":
		err = s.edit(ctx, f.payload)
	case "delete_annotation":
		err = s.delete(ctx, f.payload)
	case "video_duration":
		err = s.reportDuration(ctx, f.payload)
	case "new_reply", "edit_reply", "delete_reply":
		ok, err = s.handleReply(ctx, f.event, f.payload)
	default:
		var handled bool
		if handled, err = s.handleModeration(ctx, f.event, f.payload); !handled {
			err = errUnknownEvent
		}
	}
	if err != nil {
		s.c.replyErr(f, err)
		return
	}
	s.c.srv.cfg.Observer.Push(pushEventOf(f.event), OK)
	s.c.reply(f, ok)
}

func (s *subscription) post(ctx context.Context, payload json.RawMessage) (int64, error) {
	var p struct { // only these fields are taken
		Body     json.RawMessage `json:"body"`
		At       json.RawMessage `json:"at"`
		Duration json.RawMessage `json:"duration"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return 0, refuse("payload must be an object")
	}
	body, err := bodyField(p.Body)
	if err != nil {
		return 0, err
	}
	at, ok := nonNegInt(p.At)
	if !ok || domain.ValidateAt(at) != nil {
		return 0, refuse("at must be an integer from 0 to %d (milliseconds into the video)", int64(domain.MaxAt))
	}
	var duration int64
	if len(p.Duration) > 0 && string(p.Duration) != "null" {
		duration, ok = nonNegInt(p.Duration)
		if !ok || duration == 0 || duration > domain.MaxDurationMS {
			return 0, refuse("duration must be an integer from 1 to %d (milliseconds the note covers from at)", int64(domain.MaxDurationMS))
		}
	}
	return s.c.srv.deps.Annotations.PostRange(ctx, s.videoID, s.c.user.id, s.c.user.username, body, at, duration, s.c.meta())
}

func (s *subscription) edit(ctx context.Context, payload json.RawMessage) error {
	var p struct {
		ID   json.RawMessage `json:"id"`
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return refuse("payload must be an object")
	}
	id, err := idField(p.ID)
	if err != nil {
		return err
	}
	body, err := bodyField(p.Body)
	if err != nil {
		return err
	}
	seen, err := s.hub.mayChange(id, s.c.user.id)
	if err != nil {
		return err
	}
	return s.c.srv.deps.Annotations.EditSeen(ctx, s.videoID, id, s.c.user.id, body, seen, s.c.meta())
}

func (s *subscription) delete(ctx context.Context, payload json.RawMessage) error {
	var p struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return refuse("payload must be an object")
	}
	id, err := idField(p.ID)
	if err != nil {
		return err
	}
	seen, err := s.hub.mayChange(id, s.c.user.id)
	if err != nil {
		return err
	}
	return s.c.srv.deps.Annotations.DeleteSeen(ctx, s.videoID, id, s.c.user.id, seen, s.c.meta())
}

// reportDuration takes {"duration_ms": N}: the video's duration as the
// client's player knows it. The server keeps the largest reported, and
// refuses annotations pinned beyond it.
func (s *subscription) reportDuration(ctx context.Context, payload json.RawMessage) error {
	var p struct {
		DurationMS json.RawMessage `json:"duration_ms"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return refuse("payload must be an object")
	}
	ms, ok := nonNegInt(p.DurationMS)
	if !ok || ms == 0 || ms > domain.MaxDurationMS {
		return refuse("duration_ms must be an integer from 1 to %d (milliseconds, at most a day)", int64(domain.MaxDurationMS))
	}
	return s.c.srv.deps.Videos.ReportDuration(ctx, s.videoID, s.c.user.id, ms, s.c.meta())
}

func bodyField(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", refuse("body must be a string of 1 to %d characters", domain.MaxBodyLen)
	}
	var body string
	if err := json.Unmarshal(raw, &body); err != nil {
		return "", refuse("body must be a string of 1 to %d characters", domain.MaxBodyLen)
	}
	return body, nil
}

func idField(raw json.RawMessage) (int64, error) {
	id, ok := nonNegInt(raw)
	if !ok || id == 0 {
		return 0, refuse("id must be the integer id of an annotation")
	}
	return id, nil
}

// annotationJSON is an annotation as clients receive it.
type annotationJSON struct {
	ID         int64    `json:"id"`
	Body       string   `json:"body"`
	At         int64    `json:"at"`
	Duration   int64    `json:"duration,omitempty"` // a range's length in milliseconds
	User       userJSON `json:"user"`
	InsertedAt string   `json:"inserted_at"`
	EditedAt   string   `json:"edited_at,omitempty"`
}

type userJSON struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func toJSON(a *domain.Annotation) annotationJSON {
	j := annotationJSON{
		ID: a.ID, Body: a.Body, At: a.At, Duration: a.Duration,
		User:       userJSON{ID: a.UserID, Username: a.Username},
		InsertedAt: a.InsertedAt.UTC().Format(timeFormat),
	}
	if !a.EditedAt.IsZero() {
		j.EditedAt = a.EditedAt.UTC().Format(timeFormat)
	}
	return j
}

// annotationJSONBytes is an annotation as clients receive it, without
// rev.
func annotationJSONBytes(a *domain.Annotation) []byte {
	b, _ := json.Marshal(toJSON(a))
	return b
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }
