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
	MaxBodyLen     = 1000    // characters of an annotation body, after trimming
	MaxAt          = 1 << 40 // milliseconds; far beyond any real video (about 35 years)
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
)

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
