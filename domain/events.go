package domain

import (
	"strconv"
	"time"
)

// Event type strings. Once written to the log a type string never changes
// meaning; a new shape gets a new version.
const (
	TypeUserRegistered    = "user_registered.v1"
	TypeRoleGranted       = "role_granted.v1"
	TypeRoleRevoked       = "role_revoked.v1"
	TypePasswordChanged   = "password_changed.v1"
	TypeUserErased        = "user_erased.v1"
	TypeSignedIn          = "signed_in.v1"
	TypeSignedOut         = "signed_out.v1"
	TypeVideoAdded        = "video_added.v1"
	TypeVideoUpdated      = "video_updated.v1"
	TypeVideoDeleted      = "video_deleted.v1"
	TypeDurationReported  = "duration_reported.v1"
	TypeAnnotationPosted  = "annotation_posted.v1"
	TypeAnnotationEdited  = "annotation_edited.v1"
	TypeAnnotationDeleted = "annotation_deleted.v1"
	TypeViewerJoined      = "viewer_joined.v1"
	TypeViewerLeft        = "viewer_left.v1"
	TypeNodeStarted       = "node_started.v1"
	TypeNodeHeartbeat     = "node_heartbeat.v1"
	TypeNodeStopped       = "node_stopped.v1"
	TypeLogCopied         = "log_copied.v1"
)

// Stream names.
const (
	UsersStream  = "users"
	VideosStream = "videos"
	NodesStream  = "nodes"
	// DurationsStream holds what viewers' players reported of the videos'
	// durations: only reports that raised a video's known duration.
	DurationsStream = "durations"
	// SignInsStream holds every sign-in starting and ending.
	SignInsStream = "signins"
	// CopiesStream holds, in a log copied from another, what it was
	// copied from.
	CopiesStream = "log-copies"
)

// VideoStream holds a video's annotations.
func VideoStream(videoID int64) string { return "video-" + strconv.FormatInt(videoID, 10) }

// ViewersStream holds a video's viewers joining and leaving.
func ViewersStream(videoID int64) string { return "viewers-" + strconv.FormatInt(videoID, 10) }

// IDFromRevision is the identity of the entity created by the event at
// revision rev of its stream.
func IDFromRevision(rev uint64) int64 { return int64(rev) + 1 }

// RevisionFromID is the inverse of IDFromRevision.
func RevisionFromID(id int64) uint64 { return uint64(id - 1) }

// UserRegistered: a person created an account.
type UserRegistered struct {
	Username     string `json:"username"`
	PasswordHash string `json:"password_hash"`
}

// RoleGranted: an admin gave a user a role.
type RoleGranted struct {
	UserID    int64  `json:"user_id"`
	Role      Role   `json:"role"`
	GrantedBy int64  `json:"granted_by,omitempty"`
	Note      string `json:"note,omitempty"`
}

// RoleRevoked: an admin took a role back from a user.
type RoleRevoked struct {
	UserID    int64  `json:"user_id"`
	Role      Role   `json:"role"`
	RevokedBy int64  `json:"revoked_by,omitempty"`
	Note      string `json:"note,omitempty"`
}

// PasswordChanged: a user chose a new password. Sign-ins are ended by
// their own SignedOut events, not by this one.
type PasswordChanged struct {
	UserID       int64  `json:"user_id"`
	PasswordHash string `json:"password_hash"`
}

// UserErased: a user's personal data was erased, at their request (By
// is UserID) or by an admin (By). Their key is deleted, so nothing sealed
// with it reads again; the account is gone. It holds no personal data:
// Reason is the admin's reference for the request (a ticket number), and
// the admin's form says so.
type UserErased struct {
	UserID int64  `json:"user_id"`
	By     int64  `json:"by"`
	Reason string `json:"reason,omitempty"`
}

// SignedIn: a user proved their password and started a sign-in, a browser
// cookie or an API token that names it. SignIn is a random id, unguessable
// but not a secret of its own: what a client holds is signed by the
// server, and the id inside is checked against the live sign-ins. The
// sign-in ends by itself at ExpiresAt; no event records that.
type SignedIn struct {
	UserID    int64     `json:"user_id"`
	SignIn    string    `json:"sign_in"`
	Via       string    `json:"via"` // SignInPage or SignInAPI
	ExpiresAt time.Time `json:"expires_at"`
}

// How a sign-in was started.
const (
	SignInPage = "page"
	SignInAPI  = "api"
)

// SignedOut: sign-ins of a user ended. With SignIn set, that one ended;
// with SignIn empty, every sign-in of the user that came before this event
// in the stream ended, except Except (the sign-in that asked, which stays).
// Reason is one of the SignOut* reasons.
type SignedOut struct {
	UserID int64  `json:"user_id"`
	SignIn string `json:"sign_in,omitempty"`
	Except string `json:"except,omitempty"`
	Reason string `json:"reason"`
	// By is the admin who ended them, with SignOutByAdmin.
	By int64 `json:"by,omitempty"`
}

// Why sign-ins ended.
const (
	SignOutRequested  = "signed_out"      // the user signed out of this one
	SignOutEverywhere = "everywhere"      // the user signed out of all of them
	SignOutPassword   = "password_change" // the password changed: all but the one that changed it
	SignOutStale      = "password_stale"  // started with a password that changed meanwhile
	SignOutByAdmin    = "admin"           // an admin ended them (By)
)

// VideoAdded: a user added a video to the catalog.
type VideoAdded struct {
	UserID int64  `json:"user_id"`
	Title  string `json:"title"`
	URL    string `json:"url"`
	Slug   string `json:"slug"`
}

// VideoUpdated: the owner of video VideoID, or an admin (UserID, who
// did it), gave it a new title and URL.
type VideoUpdated struct {
	VideoID int64  `json:"video_id"`
	UserID  int64  `json:"user_id"`
	Title   string `json:"title"`
	URL     string `json:"url"`
	Slug    string `json:"slug"`
}

// VideoDeleted: the owner of video VideoID, or an admin (UserID), took it
// out of the catalog. Its annotations and viewings stay in the log; it
// takes no new ones.
type VideoDeleted struct {
	VideoID int64 `json:"video_id"`
	UserID  int64 `json:"user_id"`
}

// DurationReported: a viewer's player reported that a video lasts at
// least DurationMS milliseconds, more than was known. A video's known
// duration is the largest reported; annotations are not pinned beyond it.
type DurationReported struct {
	VideoID    int64 `json:"video_id"`
	UserID     int64 `json:"user_id"`
	DurationMS int64 `json:"duration_ms"`
}

// AnnotationPosted: a user pinned a note to moment At (milliseconds) of a
// video, or, with Duration, to the stretch from At to At+Duration. Its id
// is its revision in the video stream + 1. Duration is omitted when 0 so
// that notes on an instant are written as they always were.
type AnnotationPosted struct {
	UserID   int64  `json:"user_id"`
	Username string `json:"username"`
	Body     string `json:"body"`
	At       int64  `json:"at"`
	Duration int64  `json:"duration,omitempty"` // milliseconds; 0: an instant
}

// AnnotationEdited: the author changed an annotation's text.
type AnnotationEdited struct {
	AnnotationID int64  `json:"annotation_id"`
	UserID       int64  `json:"user_id"`
	Body         string `json:"body"`
}

// AnnotationDeleted: the author withdrew an annotation.
type AnnotationDeleted struct {
	AnnotationID int64 `json:"annotation_id"`
	UserID       int64 `json:"user_id"`
}

// ViewerJoined: a connection of a user started watching a video.
type ViewerJoined struct {
	UserID       int64     `json:"user_id"`
	Username     string    `json:"username"`
	ConnectionID string    `json:"connection_id"` // unique per tracked join (the presence phx_ref)
	Node         string    `json:"node"`
	Device       string    `json:"device,omitempty"`
	At           time.Time `json:"at"`
}

// ViewerLeft: that connection stopped watching. Reason says why: "left",
// "disconnected", "node_restarted", "node_lost".
type ViewerLeft struct {
	UserID       int64     `json:"user_id"`
	ConnectionID string    `json:"connection_id"`
	Node         string    `json:"node"`
	Reason       string    `json:"reason"`
	At           time.Time `json:"at"`
}

// NodeStarted, NodeHeartbeat and NodeStopped: a server process's life, so
// that the viewings of a process that died can be closed by another.
type NodeStarted struct {
	Node string    `json:"node"`
	Addr string    `json:"addr,omitempty"`
	At   time.Time `json:"at"`
}

type NodeHeartbeat struct {
	Node string    `json:"node"`
	At   time.Time `json:"at"`
}

type NodeStopped struct {
	Node   string    `json:"node"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// LogCopied: this log is a copy of another, made offline with its
// personal data sealed (videologue log seal). The copy's events up to
// FromPosition are the original's, at the same positions, revisions and
// times; FromHash is the original's chain hash at FromPosition (hex), so
// that an auditor can link the two logs.
type LogCopied struct {
	FromPosition uint64 `json:"from_position"`
	FromHash     string `json:"from_hash"`
	Sealed       bool   `json:"sealed"`
}
