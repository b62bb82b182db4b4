package web

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/videologue/videologue/internal/testenv"
)

// chrome is one headless Chromium shared by the subtests of a browser test;
// each person in a scenario gets a tab in a browser context of their own,
// with its own cookies, as if on another computer.
type chrome struct {
	ctx context.Context
}

func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func startChrome(t *testing.T) *chrome {
	t.Helper()
	path := chromiumPath()
	testenv.Require(t, "a Chromium browser on PATH (apt-get install chromium)", path != "")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return &chrome{ctx: ctx}
}

// tab is one browser tab, driven by one test goroutine.
type tab struct {
	t      *testing.T
	name   string
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	console []string
}

// person opens a tab in a new browser context: a person of their own.
func (c *chrome) person(t *testing.T, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext())
	return openTab(t, name, ctx, cancel)
}

// another opens a second tab of the same person (same cookies).
func (tb *tab) another(name string) *tab {
	tb.t.Helper()
	ctx, cancel := chromedp.NewContext(tb.ctx)
	return openTab(tb.t, name, ctx, cancel)
}

func openTab(t *testing.T, name string, ctx context.Context, cancel context.CancelFunc) *tab {
	t.Helper()
	if err := chromedp.Do(ctx); err != nil { // opens the tab; no timeout on this first call
		cancel()
		t.Fatalf("open tab %s: %v", name, err)
	}
	tb := &tab{t: t, name: name, ctx: ctx, cancel: cancel}
	go tb.collectConsole()
	t.Cleanup(tb.close)
	return tb
}

// collectConsole keeps the page's console output, to show it when a step
// fails and to catch Content-Security-Policy violations.
func (tb *tab) collectConsole() {
	for m, err := range chromedp.Console(tb.ctx) {
		if err != nil {
			return
		}
		tb.mu.Lock()
		tb.console = append(tb.console, m.String())
		tb.mu.Unlock()
	}
}

func (tb *tab) consoleText() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return strings.Join(tb.console, "\n")
}

// close closes the tab, as a person closing it.
func (tb *tab) close() { tb.cancel() }

// stepTimeout bounds one step of a scenario.
const stepTimeout = 15 * time.Second

func (tb *tab) fail(what string, err error) {
	tb.t.Helper()
	tb.t.Fatalf("%s: %s: %v\nconsole of %s:\n%s", tb.name, what, err, tb.name, tb.consoleText())
}

// do runs steps in the tab.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.fail(what, err)
	}
}

// waitFor polls a JavaScript expression until it is truthy.
func (tb *tab) waitFor(what, expr string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond)))
		// Right after a navigation the poll may start in the document
		// being replaced, whose context then vanishes: poll again.
		if err != nil && strings.Contains(err.Error(), "Cannot find context with specified id") && ctx.Err() == nil {
			continue
		}
		if err != nil {
			tb.fail("waiting for "+what+" ("+expr+")", err)
		}
		return
	}
}

// eval evaluates expr in tb's page and decodes the result into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.fail("evaluate "+expr, err)
	}
	return v
}

// fill types into the form fields (CSS selector -> text) and submits by
// clicking the selector submit; it then waits for the next page.
func (tb *tab) fill(fields [][2]string, submit string) int64 {
	tb.t.Helper()
	steps := make([]chromedp.Action[chromedp.Void], 0, 2*len(fields)+1)
	for _, f := range fields {
		steps = append(steps, chromedp.Clear(chromedp.CSS(f[0])), chromedp.SendKeys(chromedp.CSS(f[0]), f[1]))
	}
	tb.do(fmt.Sprintf("fill %v", fields), steps...)
	return tb.navigateBy("submit "+submit, chromedp.Click(chromedp.CSS(submit)))
}

// navigateBy runs a step that loads a new page, waits for it, and returns
// its HTTP status.
func (tb *tab) navigateBy(what string, step chromedp.Action[chromedp.Void]) int64 {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, step)
	if err != nil {
		tb.fail(what, err)
	}
	if resp == nil {
		return 0
	}
	return resp.Status
}

func (tb *tab) open(url string) int64 {
	tb.t.Helper()
	return tb.navigateBy("open "+url, chromedp.Navigate(url))
}
