package web

import "testing"

func TestPlayerFor(t *testing.T) {
	tests := []struct {
		url, kind, id string
	}{
		{"https://www.youtube.com/watch?v=dQw4w9WgXcQ", "youtube", "dQw4w9WgXcQ"},
		{"https://youtube.com/watch?v=dQw4w9WgXcQ&t=42s", "youtube", "dQw4w9WgXcQ"},
		{"https://m.youtube.com/watch?v=dQw4w9WgXcQ", "youtube", "dQw4w9WgXcQ"},
		{"https://youtu.be/dQw4w9WgXcQ", "youtube", "dQw4w9WgXcQ"},
		{"https://www.youtube.com/embed/dQw4w9WgXcQ", "youtube", "dQw4w9WgXcQ"},
		{"https://www.youtube.com/shorts/dQw4w9WgXcQ", "youtube", "dQw4w9WgXcQ"},
		{"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", "youtube", "dQw4w9WgXcQ"},
		{"https://www.youtube.com/watch?v=short", "media", ""},
		{"https://www.youtube.com/watch?v=dQw4w9WgXcQ\"><script>", "media", ""},
		{"https://evil.example/youtube.com/watch?v=dQw4w9WgXcQ", "media", ""},
		{"https://cdn.example.com/clip.mp4", "media", ""},
		{"javascript:alert(1)", "media", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			p := playerFor(tt.url)
			if p.Kind != tt.kind || p.YouTubeID != tt.id {
				t.Fatalf("playerFor = %+v, want %s %q", p, tt.kind, tt.id)
			}
		})
	}
}
