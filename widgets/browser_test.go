package widgets

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

// The sidebar the browser test emulates: Zendesk's and Help Scout's are
// about this wide.
const sidebarWidth, sidebarHeight = 320, 900

// TestBrowserHTMLWidget renders the HTML page in a real headless Chromium
// at sidebar width and checks what an agent sees: the text, its order,
// that a hostile name stays text, and that nothing scrolls sideways. It
// keeps a screenshot of each page as a test artefact.
func TestBrowserHTMLWidget(t *testing.T) {
	execPath := chromiumPath(t)

	// Each payload sets a canary that the page checks: if the renderer
	// ever lets one through, the browser runs it.
	hostile := `Zoé <script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=1">`
	longSKU := "SKU-" + strings.Repeat("0123456789ABCDEF", 6)
	longTracking := "TRK" + strings.Repeat("9876543210", 5)
	doc := htmlDoc()
	doc.Customer.Name = hostile
	doc.Orders[0].Lines = append(doc.Orders[0].Lines, orders.Line{Name: "Mug with a very long product name that must wrap in the sidebar", SKU: longSKU, Quantity: 1})
	doc.Orders[0].Shipments[0].TrackingNumber = longTracking
	doc.Orders[0].SupportRequests[0].Subject = hostile
	doc.Orders[0].SupportRequests[0].URL = "javascript:window.__pwned=1"
	doc.Orders = append(doc.Orders, orders.Order{ID: "ORD-0500", Store: "shop-fr", Status: orders.StatusClosed, CreatedAt: time.Date(2023, 12, 24, 9, 0, 0, 0, time.UTC), Total: "5.00", Currency: "EUR"})
	const hiddenPhone = "6 12 34 56 78"

	// The customer's phone is left out by the layout; the rest is default.
	en := NewView("acme", config.Sidebar{Layout: config.Layout{Customer: []string{"name", "email", "orders_count", "last_order_at"}}})
	fr := NewView("acme", config.Sidebar{Language: "fr"})
	pages := map[string][]byte{
		"/en":       RenderHTMLPage(en, doc, Freshness{State: StateOK}),
		"/fr-stale": RenderHTMLPage(fr, doc, Freshness{State: StateStale, Age: 3 * time.Minute}),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, ok := pages[r.URL.Path]
		if !ok {
			// An <img src=x> let through would ask for /x.
			if r.URL.Path == "/x" {
				t.Errorf("the browser loaded an injected image")
			}
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer srv.Close()

	browser := startBrowser(t, execPath)

	t.Run("en", func(t *testing.T) {
		text := visit(t, browser, srv.URL+"/en", "widget-en.png")
		for _, want := range []string{hostile, "zoe@example.com", "ORD-2002", "ORD-1001", "ORD-0500", longSKU, longTracking, "49.90 EUR", "2024-05-03", "Open order"} {
			if !strings.Contains(text, want) {
				t.Errorf("visible text lacks %q:\n%s", want, text)
			}
		}
		// Most recent first, as the document has them.
		if a, b, c := strings.Index(text, "ORD-2002"), strings.Index(text, "ORD-1001"), strings.Index(text, "ORD-0500"); !(a < b && b < c) {
			t.Errorf("orders are not most recent first: ORD-2002 at %d, ORD-1001 at %d, ORD-0500 at %d", a, b, c)
		}
		for _, hidden := range []string{hiddenPhone, "Phone"} {
			if strings.Contains(text, hidden) {
				t.Errorf("visible text shows %q, which the layout hides", hidden)
			}
		}
	})
	t.Run("fr-stale", func(t *testing.T) {
		text := visit(t, browser, srv.URL+"/fr-stale", "widget-fr-stale.png")
		for _, want := range []string{"Dernière mise à jour il y a 3 min", hostile, hiddenPhone, "Expédiée", "ORD-0500"} {
			if !strings.Contains(text, want) {
				t.Errorf("visible text lacks %q:\n%s", want, text)
			}
		}
		if n, d := strings.Index(text, "Dernière mise à jour"), strings.Index(text, "ORD-2002"); n > d {
			t.Errorf("the stale notice is not above the data")
		}
	})
}

// chromiumPath finds chromium, or skips the test unless
// BRIDGE_REQUIRE_BROWSER=1.
func chromiumPath(t *testing.T) string {
	t.Helper()
	execPath, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("BRIDGE_REQUIRE_BROWSER") == "1" {
			t.Fatalf("BRIDGE_REQUIRE_BROWSER=1 but chromium is not on PATH: %v", err)
		}
		t.Skip("chromium is not on PATH; set BRIDGE_REQUIRE_BROWSER=1 to make this a failure")
	}
	return execPath
}

// startBrowser starts a headless Chromium with a sidebar-sized tab, for
// the rest of the test.
func startBrowser(t *testing.T, execPath string) context.Context {
	t.Helper()
	// One deadline over the whole browser, so that a stuck browser fails
	// the test instead of hanging it.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	opts := slices.Concat(chromedp.DefaultExecAllocatorOptions[:], []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		// CI runs as root, where Chromium's sandbox cannot start.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// The machines have no outside network: nothing may try to reach it.
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	})
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser, chromedp.EmulateViewport(sidebarWidth, sidebarHeight)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}

// visit loads url in the sidebar-sized tab, checks what holds for every
// page, keeps a full-page screenshot as artefact and returns the visible
// text.
func visit(t *testing.T, browser context.Context, url, artefact string) string {
	t.Helper()
	if err := chromedp.Do(browser, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate to %s: %v", url, err)
	}
	text, err := chromedp.Run(browser, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatalf("read the visible text: %v", err)
	}

	pwned, err := chromedp.Run(browser, chromedp.Evaluate[string](`typeof window.__pwned`))
	if err != nil {
		t.Fatalf("read the canary: %v", err)
	}
	if pwned != "undefined" {
		t.Errorf("injected script ran: typeof window.__pwned = %s", pwned)
	}

	type links struct {
		Count  int      `json:"count"`
		Unsafe []string `json:"unsafe"`
	}
	l, err := chromedp.Run(browser, chromedp.Evaluate[links](`(() => {
		const as = [...document.querySelectorAll("a")];
		return {count: as.length, unsafe: as.filter(a => a.protocol === "javascript:" || a.target !== "_blank" || a.rel !== "noopener noreferrer").map(a => a.outerHTML)};
	})()`))
	if err != nil {
		t.Fatalf("read the links: %v", err)
	}
	if l.Count == 0 || len(l.Unsafe) > 0 {
		t.Errorf("%d links, these unsafe or not opening a new tab: %q", l.Count, l.Unsafe)
	}

	type widths struct {
		Scroll int `json:"scroll"`
		Inner  int `json:"inner"`
	}
	w, err := chromedp.Run(browser, chromedp.Evaluate[widths](`({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})`))
	if err != nil {
		t.Fatalf("read the widths: %v", err)
	}
	if w.Inner != sidebarWidth {
		t.Errorf("viewport is %d px wide, want %d", w.Inner, sidebarWidth)
	}
	if w.Scroll > w.Inner {
		t.Errorf("page scrolls sideways: scrollWidth %d > innerWidth %d", w.Scroll, w.Inner)
	}

	png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artefactDir(t), artefact)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("keep the screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
	return text
}

// artefactDir is where tests keep what a person looks at afterwards:
// BRIDGE_TEST_ARTEFACTS, or .artefacts at the repository root.
func artefactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BRIDGE_TEST_ARTEFACTS")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			t.Fatalf("find the artefact directory: %v", err)
		}
		dir = filepath.Join(root, ".artefacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create the artefact directory: %v", err)
	}
	return dir
}

// repoRoot walks up from the test's directory to the one holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}
