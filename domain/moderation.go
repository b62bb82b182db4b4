package domain

import (
	"strings"
	"unicode/utf8"
)

// Moderation and reaction event types, written to the video's stream
// (video-<id>) beside the annotations they are about, so that one fold of
// the stream gives every item's state and the catch-up of a client that
// was away covers them as it covers edits. They target an item of the
// stream by its id (an annotation, or any later item kept in the same
// stream with its own id).
const (
	TypeAnnotationReported = "annotation_reported.v1"
	TypeAnnotationHidden   = "annotation_hidden.v1"
	TypeReportsDismissed   = "reports_dismissed.v1"
	TypeReactionSet        = "reaction_set.v1"
)

// RoleModerator may hide items of any video and dismiss reports.
const RoleModerator Role = "moderator"

// MaxReasonBytes bounds the reason of a report, a hide or a dismissal,
// in bytes after trimming: it is stored in the log and shown in queues.
const MaxReasonBytes = 500

// AnnotationReported: a signed-in viewer asked moderators to look at an
// item, saying why. A user reports an item once.
type AnnotationReported struct {
	AnnotationID int64  `json:"annotation_id"`
	UserID       int64  `json:"user_id"`
	Username     string `json:"username"`
	Reason       string `json:"reason"`
}

// AnnotationHidden: a moderator hid an item from everyone but its author.
// It stays in the log; its open reports are closed by it.
type AnnotationHidden struct {
	AnnotationID int64  `json:"annotation_id"`
	UserID       int64  `json:"user_id"` // the moderator
	Username     string `json:"username"`
	Reason       string `json:"reason"`
}

// ReportsDismissed: a moderator closed the open reports of an item
// without hiding it.
type ReportsDismissed struct {
	AnnotationID int64  `json:"annotation_id"`
	UserID       int64  `json:"user_id"` // the moderator
	Username     string `json:"username"`
	Reason       string `json:"reason,omitempty"`
}

// ReactionSet: a user added (On) or took back a reaction to an item. A
// user holds each reaction of an item at most once: a fold ignores an
// add of one held and a removal of one not held.
type ReactionSet struct {
	AnnotationID int64  `json:"annotation_id"`
	UserID       int64  `json:"user_id"`
	Reaction     string `json:"reaction"`
	On           bool   `json:"on"`
}

// Reactions is the fixed set of reactions, in the order pages show them.
// The names are what the wire and the log carry; pages draw them as
// 👍 ❤️ 😂 😮.
var Reactions = [...]string{"thumbs_up", "heart", "laugh", "surprised"}

// ReactionIndex returns the index of a reaction in Reactions, or -1.
func ReactionIndex(name string) int {
	for i, r := range Reactions {
		if r == name {
			return i
		}
	}
	return -1
}

// NormalizeReason trims a moderation reason and checks it: valid UTF-8,
// at most MaxReasonBytes bytes, and not blank when required.
func NormalizeReason(reason string, required bool) (string, error) {
	if !utf8.ValidString(reason) {
		return "", invalid("reason", "must be valid UTF-8")
	}
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "" && required:
		return "", invalid("reason", "can't be blank")
	case len(reason) > MaxReasonBytes:
		return "", invalid("reason", "must be at most %d bytes", MaxReasonBytes)
	}
	return reason, nil
}
