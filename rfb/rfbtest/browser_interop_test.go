//go:build interop && linux

package rfbtest

import (
	"fmt"
	"image"
	"image/color"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The driver finds controls by role and label, types, evaluates scripts
// and reads a canvas's pixels exactly.
func TestBrowserDrivesAPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>t</title>
<label>User name <input id=u></label>
<button onclick="document.getElementById('out').textContent = 'hello ' + document.getElementById('u').value">Sign in</button>
<p id=out></p>
<canvas id=c width=4 height=3></canvas>
<script>
const g = document.getElementById('c').getContext('2d');
g.fillStyle = 'rgb(10,20,30)'; g.fillRect(0, 0, 4, 3);
g.fillStyle = 'rgb(250,128,1)'; g.fillRect(1, 1, 2, 1);
</script>`)
	}))
	defer srv.Close()

	b := StartBrowser(t, BrowserOptions{})
	p, err := b.NewPage(PageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if status, err := p.Goto(srv.URL); err != nil || status != 200 {
		t.Fatalf("goto: %d %v", status, err)
	}
	if err := p.Fill("User name", "anna"); err != nil {
		t.Fatal(err)
	}
	if err := p.Click("button", "Sign in"); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitText("hello anna", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	var sum int
	if err := p.Eval("(a) => a.x + a.y", map[string]int{"x": 2, "y": 40}, &sum); err != nil || sum != 42 {
		t.Fatalf("eval: %d %v", sum, err)
	}
	got, err := p.CanvasImage("#c")
	if err != nil {
		t.Fatal(err)
	}
	want := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for y := range 3 {
		for x := range 4 {
			want.Set(x, y, color.RGBA{10, 20, 30, 255})
		}
	}
	want.Set(1, 1, color.RGBA{250, 128, 1, 255})
	want.Set(2, 1, color.RGBA{250, 128, 1, 255})
	if n, _, d := Diff(got, want); n != 0 {
		t.Fatalf("canvas: %s", d)
	}
	shot, err := p.Screenshot("#c")
	if err != nil {
		t.Fatal(err)
	}
	if n, _, d := Diff(shot, want); n != 0 {
		t.Fatalf("screenshot of the canvas: %s", d)
	}
	b.SetTimeout(time.Second)
	if err := p.Click("button", "No such button"); err == nil {
		t.Fatal("clicking a missing button succeeded")
	}
}
