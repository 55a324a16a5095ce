package winvnc

import (
	"image"
	"reflect"
	"testing"

	"lifebuoy/rfb"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Command
		err  bool
	}{
		{"control on", CmdControl{true}, false},
		{"  Control   OFF ", CmdControl{false}, false},
		{"control", nil, true},
		{"control maybe", nil, true},
		{"files on", CmdFiles{true}, false},
		{"files off", CmdFiles{false}, false},
		{"windows", CmdWindows{}, false},
		{"windows 2", nil, true},
		{"share all", CmdShareAll{}, false},
		{"share 2", CmdShare{[]int{2}}, false},
		{"share 1 3", CmdShare{[]int{1, 3}}, false},
		{"share", nil, true},
		{"share 0", nil, true},
		{"share x", nil, true},
		{"status", CmdStatus{}, false},
		{"end", CmdEnd{}, false},
		{"quit", CmdEnd{}, false},
		{"help", CmdHelp{}, false},
		{"y", CmdAnswer{true}, false},
		{"YES", CmdAnswer{true}, false},
		{"n", CmdAnswer{false}, false},
		{"no", CmdAnswer{false}, false},
		{"frobnicate", nil, true},
	} {
		got, err := ParseCommand(tc.line)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseCommand(%q) = %#v, %v; want %#v (error %v)", tc.line, got, err, tc.want, tc.err)
		}
	}
	if _, err := ParseCommand("   "); err != errEmpty {
		t.Errorf("blank line: %v, want errEmpty", err)
	}
}

func TestCodeFromFilename(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"winvnc-482913", "482913"},
		{"winvnc-482913.exe", "482913"},
		{"WinVNC-482913.EXE", "482913"},
		{`C:\Users\me\Downloads\winvnc-482913 (1).exe`, "482913"},
		{"/tmp/x/winvnc-12345678", "12345678"},
		{"winvnc_482913.exe", "482913"},
		{"winvnc", ""},
		{"winvnc.exe", ""},
		{"winvnc-48a913.exe", ""},
		{"winvnc-12.exe", ""},
		{"evil-winvnc-482913.exe", ""},
		{"winvnc-482913.exe.txt", ""},
	} {
		if got := CodeFromFilename(tc.path); got != tc.want {
			t.Errorf("CodeFromFilename(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestBrokerAddr(t *testing.T) {
	for in, want := range map[string]string{
		"help.example.com":      "help.example.com:5510",
		"help.example.com:6000": "help.example.com:6000",
		"10.0.0.1":              "10.0.0.1:5510",
		"[::1]":                 "[::1]:5510",
		"[::1]:7":               "[::1]:7",
		"::1":                   "[::1]:5510",
		"":                      "",
	} {
		if got := BrokerAddr(in); got != want {
			t.Errorf("BrokerAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGroupCode(t *testing.T) {
	for in, want := range map[string]string{"482913": "482 913", "1234": "1 234", "12345678": "12 345 678", "123": "123"} {
		if got := GroupCode(in); got != want {
			t.Errorf("GroupCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVisibleRegion(t *testing.T) {
	screen := image.Rect(0, 0, 100, 100)
	ws := []Window{
		{ID: 1, Rect: image.Rect(0, 0, 50, 50), Stack: 0, Visible: true},
		{ID: 2, Rect: image.Rect(25, 25, 75, 75), Stack: 1, Visible: true},
		{ID: 3, Rect: image.Rect(90, 90, 120, 120), Stack: 2, Visible: true},
		{ID: 4, Rect: image.Rect(0, 0, 100, 100), Stack: 3, Visible: false},
	}
	area := func(rs []image.Rectangle) map[image.Point]bool {
		m := map[image.Point]bool{}
		for _, r := range rs {
			for y := r.Min.Y; y < r.Max.Y; y++ {
				for x := r.Min.X; x < r.Max.X; x++ {
					m[image.Pt(x, y)] = true
				}
			}
		}
		return m
	}
	// Window 1 minus window 2's corner above it.
	got := area(VisibleRegion(ws, map[uint32]bool{1: true}, screen))
	if len(got) != 50*50-25*25 || got[image.Pt(30, 30)] || !got[image.Pt(10, 10)] || !got[image.Pt(30, 10)] {
		t.Errorf("window 1: %d pixels", len(got))
	}
	// Both chosen: their union.
	got = area(VisibleRegion(ws, map[uint32]bool{1: true, 2: true}, screen))
	if len(got) != 50*50+50*50-25*25 {
		t.Errorf("windows 1+2: %d pixels", len(got))
	}
	// Clipped to the screen; an unmapped window covers nothing.
	got = area(VisibleRegion(ws, map[uint32]bool{3: true}, screen))
	if len(got) != 100 {
		t.Errorf("window 3: %d pixels, want 100", len(got))
	}
	// Hidden windows show nothing; unknown ones neither.
	if r := VisibleRegion(ws, map[uint32]bool{4: true, 9: true}, screen); len(r) != 0 {
		t.Errorf("hidden/unknown windows: %v", r)
	}
}

func TestPaintMask(t *testing.T) {
	var m mask
	img := newTestImage(40, 40, 0x123456)
	m.filter(img, img.Bounds()) // no selection: untouched
	if img.RGB(0, 0) != 0x123456 {
		t.Fatal("filter without selection painted")
	}
	if !m.set([]image.Rectangle{image.Rect(8, 8, 16, 16)}, false) || m.set([]image.Rectangle{image.Rect(8, 8, 16, 16)}, false) {
		t.Fatal("set should report a change once")
	}
	m.filter(img, image.Rect(0, 0, 20, 20))
	for y := range 40 {
		for x := range 40 {
			inWindow := x >= 8 && x < 16 && y >= 8 && y < 16
			outsideR := x >= 20 || y >= 20
			want := MaskColor(x, y)
			if inWindow || outsideR {
				want = 0x123456
			}
			if got := img.RGB(x, y); got != want {
				t.Fatalf("pixel (%d,%d) = %06x, want %06x", x, y, got, want)
			}
		}
	}
	if !m.set(nil, true) || m.set(nil, true) {
		t.Fatal("share all should report a change once")
	}
	// Nothing chosen visible: all masked.
	m.set(nil, false)
	m.filter(img, img.Bounds())
	if img.RGB(10, 10) != MaskColor(10, 10) {
		t.Fatal("empty region did not mask")
	}
}

// newTestImage is a w×h image of one colour.
func newTestImage(w, h int, rgb uint32) *rfb.Image {
	img := rfb.NewImage(w, h)
	img.Fill(img.Bounds(), rgb)
	return img
}
