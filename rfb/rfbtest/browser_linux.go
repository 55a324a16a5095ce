package rfbtest

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The driver script; written to a temporary file for node to run.
//
//go:embed browser.mjs
var browserDriver []byte

// BrowserOptions configures StartBrowser.
type BrowserOptions struct {
	// TrustSPKI lists base64 SHA-256 hashes of certificates' public keys
	// (SPKIHash) that Chromium accepts without a chain, as a pinned
	// self-signed broker is accepted. Nothing else is trusted beyond the
	// system's roots.
	TrustSPKI []string
	// Args are further Chromium flags.
	Args []string
}

// Browser is headless Debian Chromium driven through playwright-core
// (installed by .ci/deps.sh with npm ci into viewer/web/node_modules).
// It is closed when the test ends.
type Browser struct {
	t     testing.TB
	proc  *exec.Cmd
	stdin *os.File
	tmp   string

	mu      sync.Mutex // one request at a time
	out     *bufio.Scanner
	nextID  int
	timeout time.Duration
	stderr  *lockedBuffer
	dead    error
}

// DefaultBrowserTimeout bounds each browser step (a page load, a click,
// a wait), both in the browser and in the Go side's wait for its answer.
const DefaultBrowserTimeout = 30 * time.Second

// StartBrowser starts Chromium for the test. A missing Chromium, node or
// playwright-core fails the test with the command that installs them.
func StartBrowser(t testing.TB, opts BrowserOptions) *Browser {
	t.Helper()
	LookPath(t, "node", "chromium")
	modules, err := nodeModules()
	if err != nil {
		t.Fatalf("rfbtest: %v; run `bash .ci/deps.sh` (npm ci in viewer/web)", err)
	}
	tmp := t.TempDir()
	script := filepath.Join(tmp, "browser.mjs")
	if err := os.WriteFile(script, browserDriver, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string(nil), opts.Args...)
	if len(opts.TrustSPKI) > 0 {
		args = append(args, "--ignore-certificate-errors-spki-list="+strings.Join(opts.TrustSPKI, ","))
	}
	argsJSON, _ := json.Marshal(args)
	cmd := exec.Command("node", script)
	chromium, _ := exec.LookPath("chromium")
	cmd.Env = append(os.Environ(),
		"LIFEBUOY_NODE_MODULES="+modules,
		"LIFEBUOY_CHROMIUM="+chromium,
		"LIFEBUOY_CHROMIUM_ARGS="+string(argsJSON),
		"HOME="+tmp, // Chromium's profile and crash dumps stay in the test's folder
	)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &Browser{t: t, proc: cmd, stdin: pw, tmp: tmp, timeout: DefaultBrowserTimeout, stderr: &lockedBuffer{}}
	cmd.Stdin = pr
	cmd.Stderr = b.stderr
	cmd.WaitDelay = waitDelay
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("rfbtest: start browser driver: %v", err)
	}
	pr.Close()
	b.out = bufio.NewScanner(stdout)
	b.out.Buffer(make([]byte, 64<<10), 64<<20) // eval answers may carry pixels
	t.Cleanup(b.close)
	return b
}

// nodeModules finds viewer/web/node_modules in the module (tests run in
// their package's folder inside it).
func nodeModules() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	nm := filepath.Join(root, "viewer", "web", "node_modules")
	if _, err := os.Stat(filepath.Join(nm, "playwright-core", "package.json")); err != nil {
		return "", fmt.Errorf("playwright-core is not installed in %s", nm)
	}
	return nm, nil
}

// NodeModules is the folder that holds the pinned npm packages
// (@novnc/novnc, playwright-core), for tests that serve noVNC's files.
func NodeModules(t testing.TB) string {
	t.Helper()
	nm, err := nodeModules()
	if err != nil {
		t.Fatalf("rfbtest: %v; run `bash .ci/deps.sh` (npm ci in viewer/web)", err)
	}
	return nm
}

func (b *Browser) close() {
	b.stdin.Close() // the driver closes Chromium and exits
	done := make(chan struct{})
	go func() { b.proc.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-b.proc.Process.Pid, syscall.SIGKILL)
		<-done
	}
	if b.t.Failed() {
		if s := b.stderr.String(); s != "" {
			b.t.Logf("browser driver stderr:\n%s", s)
		}
	}
}

// SetTimeout changes the bound of each later step (DefaultBrowserTimeout
// at the start).
func (b *Browser) SetTimeout(d time.Duration) {
	b.mu.Lock()
	b.timeout = d
	b.mu.Unlock()
}

// call sends one request and waits for its answer, into out (may be nil).
func (b *Browser) call(req map[string]any, out any) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dead != nil {
		return b.dead
	}
	b.nextID++
	id := b.nextID
	req["id"] = id
	if _, ok := req["timeout"]; !ok {
		req["timeout"] = b.timeout.Milliseconds()
	}
	line, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := b.stdin.Write(append(line, '\n')); err != nil {
		b.dead = fmt.Errorf("rfbtest: browser driver gone: %w; stderr: %s", err, b.stderr.String())
		return b.dead
	}
	type answer struct {
		ID    int             `json:"id"`
		OK    bool            `json:"ok"`
		Value json.RawMessage `json:"value"`
		Error string          `json:"error"`
	}
	got := make(chan error, 1)
	var a answer
	go func() {
		for b.out.Scan() {
			if err := json.Unmarshal(b.out.Bytes(), &a); err != nil {
				got <- fmt.Errorf("rfbtest: browser driver wrote %q: %w", b.out.Text(), err)
				return
			}
			if a.ID == id {
				got <- nil
				return
			}
		}
		got <- fmt.Errorf("rfbtest: browser driver ended: %v; stderr: %s", b.out.Err(), b.stderr.String())
	}()
	// The driver has its own per-step timeout; this one catches a stuck
	// driver.
	t := time.NewTimer(b.timeout + 10*time.Second)
	defer t.Stop()
	select {
	case err := <-got:
		if err != nil {
			b.dead = err
			return err
		}
	case <-t.C:
		b.dead = fmt.Errorf("rfbtest: browser driver did not answer %v within %v", req["op"], b.timeout+10*time.Second)
		syscall.Kill(-b.proc.Process.Pid, syscall.SIGKILL)
		return b.dead
	}
	if !a.OK {
		return fmt.Errorf("rfbtest: browser %v: %s", req["op"], a.Error)
	}
	if out != nil {
		return json.Unmarshal(a.Value, out)
	}
	return nil
}

// PageOptions configures a new page (its own browser context: cookies
// are not shared between pages).
type PageOptions struct {
	Locale        string // Accept-Language and navigator.language; default en-US
	Width, Height int    // viewport; default 1280x800
}

// Page is one tab in its own browser context.
type Page struct {
	b  *Browser
	id int
}

// NewPage opens an empty page.
func (b *Browser) NewPage(opts PageOptions) (*Page, error) {
	var id int
	req := map[string]any{"op": "newPage", "locale": opts.Locale}
	if opts.Width > 0 {
		req["width"], req["height"] = opts.Width, opts.Height
	}
	if err := b.call(req, &id); err != nil {
		return nil, err
	}
	return &Page{b: b, id: id}, nil
}

func (p *Page) call(op string, req map[string]any, out any) error {
	req["op"], req["page"] = op, p.id
	return p.b.call(req, out)
}

// Close closes the page and its context.
func (p *Page) Close() error { return p.call("closePage", map[string]any{}, nil) }

// Goto loads url and returns the HTTP status of the main document.
func (p *Page) Goto(url string) (int, error) {
	var status int
	err := p.call("goto", map[string]any{"url": url}, &status)
	return status, err
}

// Eval calls the JavaScript function whose source is js (for example
// "(arg) => document.title") with arg and decodes its JSON result into
// out (may be nil). A function that returns a promise is awaited.
func (p *Page) Eval(js string, arg, out any) error {
	return p.call("eval", map[string]any{"js": js, "arg": arg}, out)
}

// WaitFunction waits until the JavaScript function js, called with arg,
// returns a truthy value, and decodes that value into out (may be nil).
func (p *Page) WaitFunction(js string, arg, out any, timeout time.Duration) error {
	return p.call("waitFunction", map[string]any{"js": js, "arg": arg, "timeout": timeout.Milliseconds()}, out)
}

// Click clicks the element with the ARIA role and accessible name (exact),
// as a person finds a control: Click("button", "Sign in").
func (p *Page) Click(role, name string) error {
	return p.call("click", map[string]any{"role": role, "name": name}, nil)
}

// Fill types value into the field labelled label (exact).
func (p *Page) Fill(label, value string) error {
	return p.call("fill", map[string]any{"label": label, "value": value}, nil)
}

// SetInputFiles sets the files of the file input labelled label.
func (p *Page) SetInputFiles(label string, files ...string) error {
	return p.call("setInputFiles", map[string]any{"label": label, "files": files}, nil)
}

// Download clicks the element with the ARIA role and accessible name,
// waits for the download it starts to finish, saves it to path and
// returns the file name the browser suggested. A download that breaks
// off is an error.
func (p *Page) Download(role, name, path string) (string, error) {
	var suggested string
	err := p.call("download", map[string]any{"role": role, "name": name, "path": path}, &suggested)
	return suggested, err
}

// Press presses and releases a key by its Playwright name ("Enter", "a",
// "Control+c").
func (p *Page) Press(key string) error { return p.call("press", map[string]any{"key": key}, nil) }

// Type types text, a key event per character, into whatever has focus.
func (p *Page) Type(text string) error { return p.call("type", map[string]any{"text": text}, nil) }

// Mouse moves to or clicks at (x, y) in page coordinates ("move",
// "click"), or presses or releases the left button where it is ("down",
// "up").
func (p *Page) Mouse(action string, x, y float64) error {
	return p.call("mouse", map[string]any{"action": action, "x": x, "y": y}, nil)
}

// WaitText waits until text is visible on the page.
func (p *Page) WaitText(text string, timeout time.Duration) error {
	return p.call("waitText", map[string]any{"text": text, "timeout": timeout.Milliseconds()}, nil)
}

// Screenshot captures the first element that the CSS selector matches, or
// the whole viewport for "".
func (p *Page) Screenshot(selector string) (*image.RGBA, error) {
	f, err := os.CreateTemp(p.b.tmp, "shot-*.png")
	if err != nil {
		return nil, err
	}
	f.Close()
	defer os.Remove(f.Name())
	if err := p.call("screenshot", map[string]any{"selector": selector, "path": f.Name()}, nil); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		return nil, err
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("rfbtest: screenshot: %w", err)
	}
	return opaque(img), nil
}

// Logs returns the page's console messages and uncaught errors so far.
func (p *Page) Logs() []string {
	var logs []string
	p.call("logs", map[string]any{}, &logs)
	return logs
}

// CanvasImage reads the pixels of the first canvas that the CSS selector
// matches, exactly as the page drew them (getImageData).
func (p *Page) CanvasImage(selector string) (*image.RGBA, error) {
	var v struct {
		W, H int
		B64  string
	}
	const js = `(sel) => {
		const c = document.querySelector(sel);
		if (!c) throw new Error('no canvas ' + sel);
		const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		let s = '';
		for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
		return { W: c.width, H: c.height, B64: btoa(s) };
	}`
	if err := p.Eval(js, selector, &v); err != nil {
		return nil, err
	}
	pix, err := base64.StdEncoding.DecodeString(v.B64)
	if err != nil {
		return nil, err
	}
	if len(pix) != v.W*v.H*4 {
		return nil, fmt.Errorf("rfbtest: canvas %dx%d gave %d bytes", v.W, v.H, len(pix))
	}
	img := &image.RGBA{Pix: pix, Stride: 4 * v.W, Rect: image.Rect(0, 0, v.W, v.H)}
	return opaque(img), nil
}
