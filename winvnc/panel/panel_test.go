package panel

import (
	"fmt"
	"image"
	"image/color"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	acme = color.RGBA{0x00, 0x7a, 0x5e, 0xff}
	t0   = time.Date(2026, 11, 29, 14, 0, 0, 0, time.UTC)
)

func newTest(lang Lang, scale float64) (*Panel, *time.Time) {
	now := t0
	p := New(Options{Brand: "Acme Support", Color: acme, Lang: lang, Scale: scale, Now: func() time.Time { return now }})
	return p, &now
}

// click presses and releases in the middle of c.
func click(t *testing.T, p *Panel, c Control) []Action {
	t.Helper()
	r := p.ControlRect(c)
	if r.Empty() {
		t.Fatalf("%v is not shown", c)
	}
	mid := r.Min.Add(r.Size().Div(2))
	p.Step(Press{mid.X, mid.Y})
	return p.Step(Release{mid.X, mid.Y})
}

func TestConsentByClick(t *testing.T) {
	p, _ := newTest(English, 1)
	p.Step(Code{"482913", t0.Add(10 * time.Minute)})
	p.Step(State{Phase: Waiting})
	if !p.ControlRect(CtlAllow).Empty() {
		t.Fatal("Allow shown with no question")
	}
	p.Step(State{Phase: Asking, Who: "Anna Berger (Acme Support)"})
	p.Step(Question{Who: "Anna Berger (Acme Support)"})
	if got := click(t, p, CtlAllow); !reflect.DeepEqual(got, []Action{Answer{Yes: true}}) {
		t.Errorf("Allow: %v", got)
	}
	if got := click(t, p, CtlDeny); !reflect.DeepEqual(got, []Action{Answer{Yes: false}}) {
		t.Errorf("Deny: %v", got)
	}
	// A press on Allow released on Deny is no click.
	a, d := p.ControlRect(CtlAllow), p.ControlRect(CtlDeny)
	p.Step(Press{a.Min.X + 2, a.Min.Y + 2})
	if got := p.Step(Release{d.Min.X + 2, d.Min.Y + 2}); got != nil {
		t.Errorf("dragged from Allow to Deny: %v", got)
	}
	if !strings.Contains(p.Title(), "482 913") || !strings.HasSuffix(p.Title(), "?") {
		t.Errorf("title %q", p.Title())
	}
	p.Step(NoQuestion{})
	if !p.ControlRect(CtlAllow).Empty() {
		t.Error("Allow still shown")
	}
}

func TestSwitchesAskTheAgent(t *testing.T) {
	p, _ := newTest(English, 1)
	p.Step(State{Phase: Sharing, Who: "Anna"})
	for _, c := range []struct {
		ctl  Control
		want Action
	}{{CtlControl, SetControl{On: true}}, {CtlFiles, SetFiles{On: true}}, {CtlArrow, SetArrow{On: false}}, {CtlEnd, End{}}} {
		if got := click(t, p, c.ctl); !reflect.DeepEqual(got, []Action{c.want}) {
			t.Errorf("%v: %v, want %v", c.ctl, got, c.want)
		}
	}
	// The switch shows what the agent enforces, not the click.
	if strings.Contains(p.Title(), "control on") {
		t.Error("control shown on before the agent said so")
	}
	p.Step(Rights{Control: true})
	if !strings.Contains(p.Title(), "remote control on") {
		t.Errorf("title %q", p.Title())
	}
	if got := click(t, p, CtlControl); !reflect.DeepEqual(got, []Action{SetControl{On: false}}) {
		t.Errorf("control off: %v", got)
	}
	// Hide is the window's own.
	if got := click(t, p, CtlHide); !reflect.DeepEqual(got, []Action{SetHidden{On: true}}) || !p.Hidden() {
		t.Errorf("hide: %v %v", got, p.Hidden())
	}
}

func TestKeyboard(t *testing.T) {
	p, _ := newTest(English, 1)
	p.Step(State{Phase: Asking, Who: "Anna"})
	p.Step(Question{Who: "Anna"})
	if p.Focus() != CtlAllow {
		t.Fatalf("focus %v, want allow", p.Focus())
	}
	if got := p.Step(Key{KeyEscape}); !reflect.DeepEqual(got, []Action{Answer{Yes: false}}) {
		t.Errorf("Esc: %v", got)
	}
	if got := p.Step(Key{KeyEnter}); !reflect.DeepEqual(got, []Action{Answer{Yes: true}}) {
		t.Errorf("Enter: %v", got)
	}
	var order []Control
	for range 8 {
		p.Step(Key{KeyTab})
		order = append(order, p.Focus())
	}
	want := []Control{CtlDeny, CtlControl, CtlFiles, CtlArrow, CtlHide, CtlEnd, CtlAllow, CtlDeny}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("tab order %v, want %v", order, want)
	}
	p.Step(Key{KeyBackTab})
	if got := p.Step(Key{KeySpace}); !reflect.DeepEqual(got, []Action{Answer{Yes: true}}) {
		t.Errorf("Shift+Tab, Space: %v", got)
	}
	// A request for control during the session does not take the focus.
	p.Step(NoQuestion{})
	p.Step(State{Phase: Sharing, Who: "Anna"})
	p.Step(Question{Who: "Anna", Control: true})
	if p.Focus() == CtlAllow {
		t.Error("a control request took the focus")
	}
}

func TestGermanAndExpiry(t *testing.T) {
	p, now := newTest(German, 1)
	p.Step(Code{"482913", t0.Add(10 * time.Minute)})
	p.Step(State{Phase: Waiting})
	p.Step(Question{Who: "Anna Berger"})
	if got := p.questionText(); got != "Anna Berger möchte Ihren Bildschirm sehen." {
		t.Errorf("question %q", got)
	}
	if !strings.Contains(p.Title(), "fernsteuerung aus") {
		t.Errorf("title %q", p.Title())
	}
	p.Step(NoQuestion{})
	*now = t0.Add(11 * time.Minute)
	p.Step(Tick{})
	if p.sentence() != texts[German].expired {
		t.Errorf("after expiry: %q", p.sentence())
	}
	for _, c := range []struct {
		in   string
		want Lang
	}{{"de_DE.UTF-8", German}, {"de-AT", German}, {"de", German}, {"en_US.UTF-8", English}, {"C", English}, {"dex", English}} {
		if got := LangFromLocale(c.in); got != c.want {
			t.Errorf("LangFromLocale(%q) = %v", c.in, got)
		}
	}
	env := map[string]string{"LANG": "en_GB.UTF-8", "LC_MESSAGES": "de_CH.UTF-8"}
	if LangFromEnv(func(k string) string { return env[k] }) != German {
		t.Error("LC_MESSAGES before LANG")
	}
}

// TestPicture checks what is drawn where: the header in the brand's
// colour, digits where the code is, the switch's colour following the
// right, twice the size at twice the scale.
func TestPicture(t *testing.T) {
	p, _ := newTest(English, 1)
	p.Step(Code{"482913", t0.Add(10 * time.Minute)})
	p.Step(State{Phase: Waiting})
	img := p.Image()
	if p.Dirty() {
		t.Error("dirty after Image")
	}
	if got := img.RGBAAt(2, 2); got != acme {
		t.Errorf("header %v, want %v", got, acme)
	}
	if n := inked(img, image.Rect(margin, headerH, width-margin, headerH+100)); n < 500 {
		t.Errorf("%d dark pixels where the code is", n)
	}
	sw := p.ControlRect(CtlControl)
	knobSide := func(img *image.RGBA) color.RGBA { return img.RGBAAt(sw.Max.X-switchW+4, sw.Min.Y+sw.Dy()/2) }
	if got := knobSide(img); got == acme {
		t.Error("control switch in the brand's colour while off")
	}
	p.Step(Rights{Control: true})
	if !p.Dirty() {
		t.Error("not dirty after a change")
	}
	if got := knobSide(p.Image()); got != acme {
		t.Errorf("control switch %v while on, want %v", got, acme)
	}
	again := p.Image()
	if !reflect.DeepEqual(again.Pix, p.Image().Pix) {
		t.Error("the same state drew two pictures")
	}
	big, _ := newTest(English, 2)
	big.Step(Code{"482913", t0.Add(10 * time.Minute)})
	big.Step(State{Phase: Waiting})
	if s1, s2 := p.Size(), big.Size(); s2.X != 2*s1.X || s2.Y < 2*s1.Y-10 || s2.Y > 2*s1.Y+10 {
		t.Errorf("size %v at scale 1, %v at 2", s1, s2)
	}
}

// inked counts the dark pixels in r.
func inked(img *image.RGBA, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if c := img.RGBAAt(x, y); int(c.R)+int(c.G)+int(c.B) < 200 {
				n++
			}
		}
	}
	return n
}

func TestTransfers(t *testing.T) {
	p, _ := newTest(English, 1)
	p.Step(State{Phase: Sharing})
	for i := 1; i <= 5; i++ {
		st := Done
		if i == 5 {
			st = Running
		}
		p.Step(Transfer{ID: i, Name: "report.pdf", Percent: 40, State: st})
	}
	if len(p.transfers) != maxTransferLines {
		t.Errorf("%d lines", len(p.transfers))
	}
	if got := click(t, p, CtlCancel); !reflect.DeepEqual(got, []Action{CancelTransfer{}}) {
		t.Errorf("cancel: %v", got)
	}
	if got := p.transferLine(p.transfers[2]); got != "Receiving report.pdf: 40 %" {
		t.Errorf("line %q", got)
	}
	p.Step(Transfer{ID: 5, Name: "report.pdf", State: Done})
	if !p.ControlRect(CtlCancel).Empty() {
		t.Error("cancel shown with nothing running")
	}
}

func TestArrowImage(t *testing.T) {
	img, hot := ArrowImage("Anna Berger", 1, false)
	if got := img.RGBAAt(hot.X+1, hot.Y+4); got.A != 0xff {
		t.Errorf("no arrow below the tip: %v", got)
	}
	if got := img.RGBAAt(0, img.Rect.Dy()-1); got.A != 0 {
		t.Errorf("corner not transparent: %v", got)
	}
	for i := 3; i < len(img.Pix); i += 4 {
		if a := img.Pix[i]; a != 0 && a != 0xff {
			t.Fatalf("alpha %d: not one bit", a)
		}
	}
	orange := 0
	for i := 0; i < len(img.Pix); i += 4 {
		if img.Pix[i] == ArrowColor.R && img.Pix[i+1] == ArrowColor.G && img.Pix[i+2] == ArrowColor.B {
			orange++
		}
	}
	if orange < 200 {
		t.Errorf("%d pixels in the arrow's colour", orange)
	}
	pulse, _ := ArrowImage("Anna Berger", 1, true)
	if pulse.RGBAAt(hot.X+14, hot.Y).A == 0 {
		t.Error("no ring when pulsing")
	}
}

func FuzzStep(f *testing.F) {
	f.Add(10, 10, uint8(0), "482913")
	f.Fuzz(func(t *testing.T, x, y int, k uint8, code string) {
		p, _ := newTest(Lang(k%2), 1+float64(k%3)/2)
		p.Step(Code{Code: code})
		p.Step(State{Phase: Phase(int(k) % int(numPhases)), Who: code})
		p.Step(Question{Who: code, Control: k%2 == 0})
		p.Step(Key{KeyName(k % 6)})
		p.Step(Press{x, y})
		p.Step(Release{x, y})
		if img := p.Image(); img.Rect.Size() != p.Size() {
			t.Fatalf("image %v, size %v", img.Rect, p.Size())
		}
	})
}

// BenchmarkImage draws the window with a question open: the work of one
// redraw after a change.
func BenchmarkImage(b *testing.B) {
	for _, scale := range []float64{1, 2} {
		b.Run(fmt.Sprintf("scale=%g", scale), func(b *testing.B) {
			p, _ := newTest(English, scale)
			p.Step(Code{"482913", t0.Add(10 * time.Minute)})
			p.Step(State{Phase: Asking})
			p.Step(Question{Who: "Anna Berger (Acme Support)"})
			for b.Loop() {
				p.changed()
				p.Image()
			}
		})
	}
}

// BenchmarkArrowImage draws the arrow with a name (once per name and
// scale: the agent keeps the picture).
func BenchmarkArrowImage(b *testing.B) {
	for b.Loop() {
		ArrowImage("Anna Berger (Acme Support)", 1, false)
	}
}

// TestSendFiles: "Send files…" is shown only when the agent has a file
// chooser and the session has not ended; a click or Enter asks for the
// chooser with a title in the window's language; the chooser's failure
// is told in the window, in red, until the customer tries again; the
// button is in the tab order after the switches, before "Cancel
// transfers".
func TestSendFiles(t *testing.T) {
	plain, _ := newTest(English, 1)
	plain.Step(State{Phase: Sharing, Who: "Anna"})
	if !plain.ControlRect(CtlSend).Empty() {
		t.Error("Send files shown with no file chooser")
	}
	p := New(Options{Brand: "Acme Support", Color: acme, Now: func() time.Time { return t0 }, SendFiles: true})
	p.Step(State{Phase: Waiting})
	if got := click(t, p, CtlSend); !reflect.DeepEqual(got, []Action{SendFiles{Title: "Send files to the supporter"}}) {
		t.Errorf("Send files: %v", got)
	}
	if p.Size().Y <= plain.Size().Y {
		t.Errorf("the window is %v with Send files, %v without", p.Size(), plain.Size())
	}
	p.Step(State{Phase: Sharing, Who: "Anna"})
	p.Step(Transfer{ID: 1, Name: "report.pdf", Sending: true, Percent: 10, State: Running})
	send, cancel := p.ControlRect(CtlSend), p.ControlRect(CtlCancel)
	if send.Empty() || cancel.Empty() || send.Max.Y > cancel.Min.Y {
		t.Errorf("Send files at %v, Cancel transfers at %v", send, cancel)
	}
	// The keyboard reaches it: Tab from the first switch.
	click(t, p, CtlControl)
	for i := 0; i < 8 && p.Focus() != CtlSend; i++ {
		p.Step(Key{KeyTab})
	}
	var order []Control
	for range 3 {
		order = append(order, p.Focus())
		p.Step(Key{KeyBackTab})
	}
	if want := []Control{CtlSend, CtlHide, CtlArrow}; !reflect.DeepEqual(order, want) {
		t.Errorf("Shift+Tab from Send files: %v, want %v", order, want)
	}
	for range 3 {
		p.Step(Key{KeyTab})
	}
	if got := p.Step(Key{KeyEnter}); !reflect.DeepEqual(got, []Action{SendFiles{Title: "Send files to the supporter"}}) {
		t.Errorf("Enter on Send files: %v", got)
	}
	if got := p.Step(Key{KeyTab}); got != nil || p.Focus() != CtlCancel {
		t.Errorf("Tab after Send files: focus %v", p.Focus())
	}

	// The chooser failed: a red sentence above the button.
	before := p.Size()
	p.Step(SendFailed{})
	send = p.ControlRect(CtlSend)
	if p.Size().Y <= before.Y {
		t.Errorf("size %v after the failure, %v before", p.Size(), before)
	}
	img := p.Image()
	red := 0
	for y := send.Min.Y - 40; y < send.Min.Y; y++ {
		for x := margin; x < width-margin; x++ {
			if img.RGBAAt(x, y) == colEnd {
				red++
			}
		}
	}
	if red < 20 {
		t.Errorf("%d red pixels above Send files after the failure", red)
	}
	click(t, p, CtlSend)
	if p.Size() != before {
		t.Errorf("the failure still shown after trying again: size %v, want %v", p.Size(), before)
	}
	p.Step(State{Phase: Ended})
	if !p.ControlRect(CtlSend).Empty() {
		t.Error("Send files shown after the session ended")
	}

	if got := p.transferLine(Transfer{ID: 2, Name: "a b.txt", Sending: true, State: Offered}); got != "Offered a b.txt to the supporter" {
		t.Errorf("offer line %q", got)
	}
	de := New(Options{Lang: German, SendFiles: true})
	de.Step(State{Phase: Sharing})
	if got := click(t, de, CtlSend); !reflect.DeepEqual(got, []Action{SendFiles{Title: "Dateien an den Berater senden"}}) {
		t.Errorf("German: %v", got)
	}
	if texts[German].send != "Dateien senden…" {
		t.Errorf("German button %q", texts[German].send)
	}
	if got := de.transferLine(Transfer{Name: "a.txt", State: Offered}); got != "a.txt dem Berater angeboten" {
		t.Errorf("German offer line %q", got)
	}
}
