package domain

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits.
const (
	MaxBodyLen     = 1000                // characters of an annotation body, after trimming
	MaxAt          = 1 << 40             // milliseconds; far beyond any real video (about 35 years)
	MaxDurationMS  = 24 * 60 * 60 * 1000 // the longest video duration a player may report: a day
	MaxTitleLen    = 200
	MaxURLLen      = 2048
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

// ValidationError is a rule a request broke; its message is safe to show
// to the person who made the request.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

// RefusedError is a request a rule refused, with a message safe to show
// to the person who made it; it wraps the sentinel callers branch on
// (ErrNotFound, ErrForbidden, ErrConflict).
type RefusedError struct {
	Err     error
	Message string
}

func (e *RefusedError) Error() string { return e.Message }
func (e *RefusedError) Unwrap() error { return e.Err }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for rules that callers branch on.
var (
	ErrNotFound       = errors.New("not found")
	ErrForbidden      = errors.New("forbidden")
	ErrUsernameTaken  = errors.New("username already taken")
	ErrBadCredentials = errors.New("wrong username or password")
	ErrAnnotationGone = errors.New("annotation deleted")
	ErrConflict       = errors.New("conflict")
	// ErrVideoDeleted: the video was in the catalog and was deleted.
	ErrVideoDeleted = errors.New("video deleted")
)

// MayChangeVideo says whether a user may edit or delete a video: its
// owner may, and so may an admin; anyone else gets ErrForbidden.
func MayChangeVideo(ownerID, userID int64, roles Roles) error {
	if userID != 0 && (userID == ownerID || roles.Can(RoleAdmin)) {
		return nil
	}
	return ErrForbidden
}

// NormalizeBody trims an annotation body and checks its length.
func NormalizeBody(body string) (string, error) {
	if !utf8.ValidString(body) {
		return "", invalid("body", "must be valid UTF-8")
	}
	body = strings.TrimSpace(body)
	n := utf8.RuneCountInString(body)
	switch {
	case n == 0:
		return "", invalid("body", "can't be blank")
	case n > MaxBodyLen:
		return "", invalid("body", "must be at most %d characters", MaxBodyLen)
	}
	return body, nil
}

// ValidateAt checks a moment in a video, in milliseconds.
func ValidateAt(at int64) error {
	if at < 0 || at > MaxAt {
		return invalid("at", "must be an integer from 0 to %d", int64(MaxAt))
	}
	return nil
}

// ValidateAtWithin checks that moment at (milliseconds) lies within a
// video whose known duration is durationMS; 0 means the duration is not
// known, and any valid at is accepted.
func ValidateAtWithin(at, durationMS int64) error {
	if err := ValidateAt(at); err != nil {
		return err
	}
	if durationMS > 0 && at > durationMS {
		return invalid("at", "must be at most %d: the video lasts %s", durationMS, clock(durationMS))
	}
	return nil
}

// ValidateSpan checks a note's moment at and the stretch it covers,
// duration (milliseconds; 0 for an instant), against a video whose known
// duration is videoMS (0: not known). A stretch is at most a day, as a
// video is, and must end within the video.
func ValidateSpan(at, duration, videoMS int64) error {
	if err := ValidateAtWithin(at, videoMS); err != nil {
		return err
	}
	switch {
	case duration == 0:
		return nil
	case duration < 0 || duration > MaxDurationMS:
		return invalid("duration", "must be an integer from 1 to %d (milliseconds, at most a day)", int64(MaxDurationMS))
	case at+duration > MaxAt:
		return invalid("duration", "must end by %d milliseconds into the video", int64(MaxAt))
	case videoMS > 0 && at+duration > videoMS:
		return invalid("duration", "must end by %d: the video lasts %s", videoMS, clock(videoMS))
	}
	return nil
}

// NormalizeDuration checks a video duration a player reported, in
// milliseconds, and rounds it up to a whole second: players round
// differently, and a report that raises the known duration by less than
// a second is not worth an event.
func NormalizeDuration(ms int64) (int64, error) {
	if ms < 1 || ms > MaxDurationMS {
		return 0, invalid("duration_ms", "must be an integer from 1 to %d (a day, in milliseconds)", int64(MaxDurationMS))
	}
	return (ms + 999) / 1000 * 1000, nil
}

// clock writes milliseconds as people read a video's length: 1:05:09,
// 4:07, 0:20.
func clock(ms int64) string {
	s := ms / 1000
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

var usernameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{1,29}$`)

// NormalizeUsername checks a username (2 to 30 of letters, digits, _ . -)
// and returns the form used for uniqueness (lower case).
func NormalizeUsername(name string) (display, key string, err error) {
	name = strings.TrimSpace(name)
	if !usernameRe.MatchString(name) {
		return "", "", invalid("username", "must be 2 to 30 letters, digits, '_', '.' or '-'")
	}
	return name, strings.ToLower(name), nil
}

// ValidatePassword rejects weak passwords.
func ValidatePassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen {
		return invalid("password", "must be at least %d characters", MinPasswordLen)
	}
	if len(pw) > MaxPasswordLen {
		return invalid("password", "must be at most %d bytes", MaxPasswordLen)
	}
	var kinds [3]bool
	for _, r := range pw {
		switch {
		case unicode.IsLetter(r):
			kinds[0] = true
		case unicode.IsDigit(r):
			kinds[1] = true
		default:
			kinds[2] = true
		}
	}
	if !kinds[0] || !(kinds[1] || kinds[2]) {
		return invalid("password", "must mix letters with digits or symbols")
	}
	return nil
}

// NormalizeVideo checks a video's title and URL: http(s) only.
func NormalizeVideo(title, rawURL string) (string, string, error) {
	title = strings.TrimSpace(title)
	if title == "" || utf8.RuneCountInString(title) > MaxTitleLen || !utf8.ValidString(title) {
		return "", "", invalid("title", "must be 1 to %d characters", MaxTitleLen)
	}
	rawURL = strings.TrimSpace(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil || len(rawURL) > MaxURLLen || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", invalid("url", "must be an http or https address")
	}
	return title, u.String(), nil
}

// Slugify makes the readable part of a watch URL: "My Title!" -> "my-title".
func Slugify(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}
