package winvnc

import (
	"image"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// testSelection is a selection over a window list the test changes, on a
// clock the test moves.
type testSelection struct {
	*selection
	ws  []Window
	now time.Time
}

func newTestSelection(settle time.Duration) *testSelection {
	ts := &testSelection{now: time.Unix(1000, 0)}
	ts.selection = &selection{
		mask:    &mask{},
		windows: func() ([]Window, error) { return slices.Clone(ts.ws), nil },
		size:    func() (int, int) { return 100, 100 },
		log:     slog.New(slog.DiscardHandler),
		settle:  settle,
		now:     func() time.Time { return ts.now },
	}
	return ts
}

func (ts *testSelection) region() []image.Rectangle {
	p := ts.mask.region.Load()
	if p == nil {
		return nil
	}
	return *p
}

// shows reports whether the installed mask shows point p.
func (ts *testSelection) shows(p image.Point) bool {
	for _, r := range ts.region() {
		if p.In(r) {
			return true
		}
	}
	return false
}

func TestSelectionFollowsEachFrame(t *testing.T) {
	ts := newTestSelection(0)
	shared := Window{ID: 1, Rect: image.Rect(10, 10, 60, 60), Stack: 0, Visible: true, App: true}
	other := Window{ID: 2, Rect: image.Rect(70, 70, 90, 90), Stack: 1, Visible: true, App: true}
	ts.ws = []Window{shared, other}
	if ts.Active() {
		t.Fatal("active before a choice")
	}
	if !ts.choose(map[uint32]bool{1: true}) || !ts.Active() || !ts.shows(image.Pt(30, 30)) {
		t.Fatalf("choose: %v", ts.region())
	}
	// The other window moves over the shared one: the next frame's
	// Prepare masks it, and says so.
	ts.ws[1].Rect = image.Rect(20, 20, 40, 40)
	if !ts.Prepare() || ts.shows(image.Pt(30, 30)) || !ts.shows(image.Pt(50, 50)) {
		t.Fatalf("after the move: %v", ts.region())
	}
	if ts.Prepare() {
		t.Error("Prepare with an unchanged layout reported a change")
	}
	// It moves again between Prepare and the pixels (Windows): Confirm
	// masks what either place covers.
	ts.ws[1].Rect = image.Rect(40, 40, 55, 55)
	if !ts.Confirm() || ts.shows(image.Pt(30, 30)) || ts.shows(image.Pt(45, 45)) || !ts.shows(image.Pt(15, 15)) {
		t.Fatalf("Confirm: %v", ts.region())
	}
	// Sharing everything again ends it, and a late Prepare cannot put the
	// mask back.
	if !ts.choose(nil) || ts.region() != nil || ts.Active() {
		t.Fatal("share all")
	}
	if ts.Prepare() || ts.Confirm() || ts.region() != nil {
		t.Fatal("a Prepare after share all changed the mask")
	}
}

// Where the screen's pixels may lag the window positions, a window's old
// places stay masked for settle after it moved, then show again.
func TestSelectionSettles(t *testing.T) {
	ts := newTestSelection(300 * time.Millisecond)
	ts.ws = []Window{
		{ID: 1, Rect: image.Rect(0, 0, 100, 100), Stack: 0, Visible: true},
		{ID: 2, Rect: image.Rect(0, 0, 10, 10), Stack: 1, Visible: true},
	}
	ts.choose(map[uint32]bool{1: true})
	for i := range 5 { // dragged right in steps of 20, one frame each 33 ms
		ts.now = ts.now.Add(33 * time.Millisecond)
		ts.ws[1].Rect = image.Rect(20*i, 0, 20*i+10, 10)
		ts.Prepare()
	}
	for i := range 5 {
		if ts.shows(image.Pt(20*i+5, 5)) {
			t.Errorf("place %d of the dragged window shows: %v", i, ts.region())
		}
	}
	ts.now = ts.now.Add(time.Second)
	if !ts.Prepare() || !ts.shows(image.Pt(5, 5)) || ts.shows(image.Pt(85, 5)) {
		t.Errorf("after settling: %v", ts.region())
	}
	// Read at two places far apart (a drag between two slow captures):
	// the places between them, where the pixels may show it, are masked.
	ts.now = ts.now.Add(time.Second)
	ts.ws[1].Rect = image.Rect(0, 0, 10, 10)
	ts.Prepare()
	ts.now = ts.now.Add(100 * time.Millisecond)
	ts.ws[1].Rect = image.Rect(80, 0, 90, 10)
	ts.Prepare()
	if ts.shows(image.Pt(45, 5)) {
		t.Errorf("a place between two reads shows: %v", ts.region())
	}
	// A window that goes away still covers its last place for a while.
	ts.now = ts.now.Add(time.Second)
	ts.Prepare()
	ts.ws = ts.ws[:1]
	ts.now = ts.now.Add(10 * time.Millisecond)
	ts.Prepare()
	if ts.shows(image.Pt(85, 5)) {
		t.Errorf("a window just closed shows through: %v", ts.region())
	}
	ts.now = ts.now.Add(time.Second)
	ts.Prepare()
	if !ts.shows(image.Pt(85, 5)) {
		t.Errorf("long after it closed its place is still masked: %v", ts.region())
	}
	ts.ws = append(ts.ws, Window{ID: 2, Rect: image.Rect(0, 50, 10, 60), Stack: 1, Visible: true})

	// A window that never rests masks everything, not a growing list.
	for i := range 2 * maxHistory {
		ts.now = ts.now.Add(time.Millisecond)
		ts.ws[1].Rect = image.Rect(i, 50, i+10, 60)
		ts.Prepare()
	}
	if r := ts.region(); len(r) != 0 {
		t.Errorf("restless window: %d rectangles shown", len(r))
	}
}

// A layout that does not change may be read at any rate (the Windows
// capture reads it twice a frame, and at once again after a move) without
// the history filling up and the mask hiding everything.
func TestSelectionStillLayoutReadOften(t *testing.T) {
	ts := newTestSelection(1500 * time.Millisecond)
	ts.ws = []Window{
		{ID: 1, Rect: image.Rect(0, 0, 50, 100), Stack: 0, Visible: true},
		{ID: 2, Rect: image.Rect(50, 0, 100, 100), Stack: 1, Visible: true},
	}
	ts.choose(map[uint32]bool{1: true})
	for range 20 * maxHistory {
		ts.now = ts.now.Add(time.Millisecond)
		ts.Prepare()
		ts.Confirm()
	}
	if !ts.shows(image.Pt(25, 50)) || ts.shows(image.Pt(75, 50)) {
		t.Errorf("a still layout read %d times in %v: %v", 20*maxHistory, 20*maxHistory*time.Millisecond, ts.region())
	}
	if n := len(ts.history); n != 1 {
		t.Errorf("history of a still layout holds %d entries", n)
	}
}

// A shared window raised over another (the stacking order changes, no
// window moves): where the other was on top stays masked for settle, as
// the pixels may still show it there.
func TestSelectionSettlesRestacking(t *testing.T) {
	ts := newTestSelection(1500 * time.Millisecond)
	ts.ws = []Window{
		{ID: 1, Rect: image.Rect(0, 0, 60, 60), Stack: 0, Visible: true},
		{ID: 2, Rect: image.Rect(40, 40, 100, 100), Stack: 1, Visible: true},
	}
	ts.choose(map[uint32]bool{1: true})
	if ts.shows(image.Pt(50, 50)) || !ts.shows(image.Pt(20, 20)) {
		t.Fatalf("before: %v", ts.region())
	}
	ts.now = ts.now.Add(33 * time.Millisecond)
	ts.ws[0].Stack, ts.ws[1].Stack = 1, 0
	ts.Prepare()
	if ts.shows(image.Pt(50, 50)) {
		t.Errorf("just after the shared window was raised, the other's place shows: %v", ts.region())
	}
	ts.now = ts.now.Add(2 * time.Second)
	ts.Prepare()
	if !ts.shows(image.Pt(50, 50)) || ts.shows(image.Pt(80, 80)) {
		t.Errorf("settled after the raise: %v", ts.region())
	}
}

func TestIntersectRegions(t *testing.T) {
	a := []image.Rectangle{image.Rect(0, 0, 10, 10), image.Rect(20, 0, 30, 10)}
	b := []image.Rectangle{image.Rect(5, 5, 25, 15)}
	got := intersectRegions(a, b)
	want := []image.Rectangle{image.Rect(5, 5, 10, 10), image.Rect(20, 5, 25, 10)}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if intersectRegions(a, nil) != nil {
		t.Error("with nothing: not empty")
	}
}
