package web

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/videologue/videologue/internal/testenv"
)

// The committed bundle static/app.js must be exactly what the lock file
// builds from assets/js: otherwise the binary would embed code nobody can
// reproduce. The test builds it afresh in a temp dir with `npm ci` and
// `npm run build`.
func TestCommittedBundleMatchesLockFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the JS bundle with npm")
	}
	_, errNode := exec.LookPath("node")
	_, errNpm := exec.LookPath("npm")
	testenv.Require(t, "node and npm on PATH (to rebuild web/static/app.js)", errNode == nil && errNpm == nil)

	dir := t.TempDir()
	assets := filepath.Join(dir, "assets")
	for _, f := range []string{"package.json", "package-lock.json"} {
		copyFile(t, filepath.Join("assets", f), filepath.Join(assets, f))
	}
	js, err := filepath.Glob(filepath.Join("assets", "js", "*.js"))
	if err != nil || len(js) == 0 {
		t.Fatalf("no sources under assets/js: %v", err)
	}
	for _, f := range js {
		copyFile(t, f, filepath.Join(assets, "js", filepath.Base(f)))
	}
	if err := os.MkdirAll(filepath.Join(dir, "static"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, assets, "npm", "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error")
	run(t, assets, "npm", "run", "build", "--silent")

	built, err := os.ReadFile(filepath.Join(dir, "static", "app.js"))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join("static", "app.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, committed) {
		t.Fatalf("web/static/app.js (%d bytes) differs from what web/assets builds (%d bytes): run `npm ci && npm run build` in web/assets and commit the result",
			len(committed), len(built))
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t testing.TB, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v in %s: %v\n%s", name, args, dir, err, out)
	}
}
