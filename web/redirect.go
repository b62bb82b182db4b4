package web

import (
	"net/url"
	"strings"
)

// localPath accepts only a path on this site as a place to return to, so
// that a crafted ?next= cannot send someone elsewhere after signing in;
// anything else is "" (the caller's default). It judges the address as a
// browser will read it from a Location header: the WHATWG URL parser
// trims leading and trailing controls and spaces, drops every tab and
// newline inside, and reads a backslash as a slash, so "/\t/evil",
// "/\\evil" and "\\/evil" all mean //evil, another site. What is left
// must be a path starting with one slash, with no scheme or host, and
// stay so once its escapes are decoded ("/%2F%2Fevil").
func localPath(next string) string {
	next = strings.Trim(next, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"+
		"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	next = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(next)
	if !isLocal(next) {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!isLocal(strings.ReplaceAll(u.Path, "\\", "/")) {
		return ""
	}
	return u.String()
}

// isLocal: starts with exactly one slash and holds no control character.
func isLocal(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return false
		}
	}
	return true
}
