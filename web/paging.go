package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Every list the site serves is a page: ?limit= videos (defaultPage when
// absent, at most maxListPage) after the video whose id is ?after= (the
// last of the previous page), newest first. The cost of a request is then
// that of a page, whatever the size of the catalog.
const (
	defaultPage = 50
	maxListPage = 200
)

// pageParams reads ?limit= and ?after=, refusing anything but whole
// numbers in range with a message saying what is accepted.
func pageParams(q url.Values) (after int64, limit int, err error) {
	limit = defaultPage
	if s := strings.TrimSpace(q.Get("limit")); s != "" || q.Has("limit") {
		n, perr := strconv.Atoi(s)
		if perr != nil || n < 1 || n > maxListPage {
			return 0, 0, badRequest(fmt.Sprintf("limit must be a whole number from 1 to %d", maxListPage))
		}
		limit = n
	}
	if s := strings.TrimSpace(q.Get("after")); s != "" || q.Has("after") {
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil || n < 1 {
			return 0, 0, badRequest("after must be the id of a video: a whole number from 1")
		}
		after = n
	}
	return after, limit, nil
}

// nextPageURL is the address of the page after one that ended at next,
// keeping the request's other parameters (its filters and limit).
func nextPageURL(r *http.Request, next int64) string {
	q := r.URL.Query()
	q.Set("after", strconv.FormatInt(next, 10))
	return r.URL.Path + "?" + q.Encode()
}
