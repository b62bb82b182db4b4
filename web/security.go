package web

import "net/http"

// contentSecurityPolicy allows the page's own script and styles, the YouTube
// IFrame API (its loader and player scripts come from www.youtube.com, the
// player itself is a frame), YouTube thumbnails, and media from any http(s)
// address, since a video may be a direct link to a file anywhere. No inline
// script or style is allowed, so injected markup cannot run.
const contentSecurityPolicy = "default-src 'self'; " +
	"script-src 'self' https://www.youtube.com; " +
	"frame-src https://www.youtube.com https://www.youtube-nocookie.com; " +
	"img-src 'self' data: https://i.ytimg.com; " +
	"media-src 'self' https: http:; " +
	"style-src 'self'; " +
	"connect-src 'self'; " +
	"font-src 'self'; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// secureHeaders sets the security headers of every page and asset.
func secureHeaders(hsts bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", contentSecurityPolicy)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			// The YouTube player needs the page's origin as referrer.
			h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			if hsts || r.TLS != nil {
				h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			next.ServeHTTP(w, r)
		})
	}
}
