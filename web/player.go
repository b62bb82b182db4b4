package web

import (
	"net/url"
	"regexp"
	"strings"
)

// playerSource is how the watch page plays a video's URL.
type playerSource struct {
	Kind      string // "youtube" or "media"
	YouTubeID string // for youtube
	Src       string // for media: the URL itself
}

var youtubeIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{11}$`)

// playerFor recognises YouTube links (watch, youtu.be, embed, shorts,
// live); anything else is a direct media URL for an HTML5 <video>.
func playerFor(raw string) playerSource {
	if id := youtubeID(raw); id != "" {
		return playerSource{Kind: "youtube", YouTubeID: id}
	}
	return playerSource{Kind: "media", Src: raw}
}

func youtubeID(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	host := strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
	var id string
	switch host {
	case "youtu.be":
		id = strings.Trim(u.Path, "/")
	case "youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com":
		if u.Path == "/watch" {
			id = u.Query().Get("v")
			break
		}
		for _, prefix := range []string{"/embed/", "/shorts/", "/live/", "/v/"} {
			if rest, ok := strings.CutPrefix(u.Path, prefix); ok {
				id, _, _ = strings.Cut(rest, "/")
			}
		}
	}
	if !youtubeIDRe.MatchString(id) {
		return ""
	}
	return id
}

// thumbnail is a still for a video card, or "" for none.
func (p playerSource) thumbnail() string {
	if p.Kind == "youtube" {
		return "https://i.ytimg.com/vi/" + p.YouTubeID + "/mqdefault.jpg"
	}
	return ""
}
