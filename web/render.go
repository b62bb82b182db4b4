package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"
)

// The page templates and the static assets ship inside the binary; the
// bundle web/static/app.js is built from web/assets by `npm run build` and
// committed, so running the server needs no Node.
var (
	//go:embed templates/*.html
	templateFS embed.FS
	//go:embed static/app.js static/app.css static/favicon.svg static/admin.css
	staticFS embed.FS
)

// pageNames are the templates under templates/ that render a whole page
// inside layout.html; templates/_*.html are parts that pages share.
var pageNames = []string{"home", "register", "signin", "account", "videos", "video_new", "video_edit", "watch", "error", "admin", "admin_user"}

// renderer renders the server-side pages.
type renderer struct {
	pages   map[string]*template.Template
	version string // content hash of the static assets, for cache busting
	logger  *slog.Logger
}

func newRenderer(logger *slog.Logger) (*renderer, error) {
	funcs := template.FuncMap{"initial": initial}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	r := &renderer{pages: make(map[string]*template.Template, len(pageNames)), logger: logger}
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", name, err)
		}
		r.pages[name] = t
	}
	if r.version, err = assetVersion(); err != nil {
		return nil, err
	}
	return r, nil
}

func assetVersion() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(staticFS, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("web: hash assets: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// initial is the first letter of a name, upper-cased, for avatars.
func initial(s string) string {
	r, _ := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return "?"
	}
	return strings.ToUpper(string(r))
}

// viewUser is the signed-in person as pages show them.
type viewUser struct {
	ID       int64
	Username string
	// Analyst and Auditor say the navigation links to the replay and
	// audit pages: the user holds the role and the site serves them.
	Analyst, Auditor bool
	// Moderator may hide items and dismiss reports on the watch page;
	// ModerationPage, the navigation links to the moderators' queue.
	Moderator, ModerationPage bool
	// Admin may edit and delete anyone's video, and sees the admin pages.
	Admin bool
}

// page is what every template gets. Data holds the page's own values.
type page struct {
	Title        string
	Nav          string // highlights the current section; also a body class
	User         *viewUser
	CSRF         string
	Flash        string
	SocketToken  string
	AssetVersion string
	Data         any
}

// render writes the named page with status. It renders into a buffer first
// so that a template error becomes a clean 500, not half a page.
func (rd *renderer) render(w http.ResponseWriter, status int, name string, p page) {
	p.AssetVersion = rd.version
	var buf bytes.Buffer
	if err := rd.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		rd.logger.Error("render page", "page", name, "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// staticHandler serves the embedded assets, files only: a directory is
// 404, never a listing. A request naming the current version (?v=) may be
// cached for good; anything else is revalidated.
func (rd *renderer) staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static") // "static" is a literal embedded dir
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if st, err := fs.Stat(sub, name); name == "" || err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == rd.version {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}
