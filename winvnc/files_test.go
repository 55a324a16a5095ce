package winvnc

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":             "report.pdf",
		"../../etc/passwd":       "passwd",
		`..\..\Windows\win.ini`:  "win.ini",
		"..":                     "file",
		"":                       "file",
		" . ":                    "file",
		".bashrc":                "bashrc",
		"a:b*c?.txt":             "a_b_c_.txt",
		"con":                    "_con",
		"NUL.txt":                "_NUL.txt",
		"com1.tar.gz":            "_com1.tar.gz",
		"COM0":                   "COM0",
		"console.log":            "console.log",
		"bell\a\ttab\nnl.txt":    "belltabnl.txt",
		"invoice\u202egpj.exe":   "invoicegpj.exe",
		"Grüße für Anna ✓.odt":   "Grüße für Anna ✓.odt",
		"trailing dots...":       "trailing dots",
		"bad\xffutf8":            "bad_utf8",
		"dir/":                   "file",
		strings.Repeat("é", 127): strings.Repeat("é", 127),
	} {
		got, err := sanitizeName(in)
		if err != nil || got != want {
			t.Errorf("sanitizeName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := sanitizeName(strings.Repeat("x", 10000)); !errors.Is(err, errNameTooLong) {
		t.Errorf("a 10,000-byte name: %v", err)
	}
}

func TestReserveName(t *testing.T) {
	dir := t.TempDir()
	var got []string
	for range 3 {
		n, err := reserveName(dir, "report.pdf")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	n, err := reserveName(dir, "README")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, n)
	if want := []string{"report.pdf", "report (1).pdf", "report (2).pdf", "README"}; !reflect.DeepEqual(got, want) {
		t.Errorf("reserved %q, want %q", got, want)
	}
	if numberedName(".x", 1) != ".x (1)" || numberedName("a.tar.gz", 2) != "a.tar (2).gz" {
		t.Errorf("numbered: %q %q", numberedName(".x", 1), numberedName("a.tar.gz", 2))
	}
}

// TestHomePath: paths stay in the home folder; ".." and a symbolic link
// out of it are refused, a link within it is followed.
func TestHomePath(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need a privilege on Windows")
	}
	root := t.TempDir()
	home := filepath.Join(root, "home")
	os.MkdirAll(filepath.Join(home, "docs"), 0o700)
	os.WriteFile(filepath.Join(home, "docs", "a.txt"), []byte("a"), 0o600)
	os.WriteFile(filepath.Join(root, "secret"), []byte("s"), 0o600)
	os.Symlink(filepath.Join(root, "secret"), filepath.Join(home, "out"))
	os.Symlink(filepath.Join(home, "docs"), filepath.Join(home, "in"))
	realHome, _ := filepath.EvalSymlinks(home)
	for rel, want := range map[string]string{
		"":              realHome,
		"docs/a.txt":    filepath.Join(realHome, "docs", "a.txt"),
		"in/a.txt":      filepath.Join(realHome, "docs", "a.txt"),
		"../secret":     "error: no such",
		"docs/../../..": realHome,
		"out":           "error: outside",
		"missing":       "error: no such",
		"a\x00b":        "error: NUL",
	} {
		got, err := homePath(home, rel)
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != want && !(strings.HasPrefix(want, "error: ") && strings.Contains(got, strings.TrimPrefix(want, "error: "))) {
			t.Errorf("homePath(%q) = %q, want %q", rel, got, want)
		}
	}
	if r := homeRel(home, filepath.Join(realHome, "docs")); r != "docs" {
		t.Errorf("homeRel = %q", r)
	}
}

func TestParseFileCommands(t *testing.T) {
	for line, want := range map[string]Command{
		"send /home/Eve/My Report.PDF": CmdSend{Path: "/home/Eve/My Report.PDF"},
		`SEND "C:\Users\Eve\a b.txt"`:  CmdSend{Path: `C:\Users\Eve\a b.txt`},
		"cancel":                       CmdCancel{},
		"cancel 3":                     CmdCancel{ID: 3},
	} {
		got, err := ParseCommand(line)
		if err != nil || got != want {
			t.Errorf("ParseCommand(%q) = %#v, %v; want %#v", line, got, err, want)
		}
	}
	for _, bad := range []string{"send", "send   ", "cancel x", "cancel 1 2", "cancel -1"} {
		if c, err := ParseCommand(bad); err == nil {
			t.Errorf("ParseCommand(%q) = %#v", bad, c)
		}
	}
}

func TestTransferLine(t *testing.T) {
	for _, c := range []struct {
		ev   EvTransfer
		want string
	}{
		{EvTransfer{ID: 3, Name: "report.pdf", Size: 5e6, Done: 2e6}, `file 3 receiving "report.pdf" 40% (2.0 MB of 5.0 MB)`},
		{EvTransfer{ID: 3, Sending: true, Name: "x", Size: 0}, `file 3 sending "x" 100% (0 bytes of 0 bytes)`},
		{EvTransfer{ID: 4, Name: "r (1).pdf", Size: 5e6, State: TransferDone, Detail: "/h/Downloads/Lifebuoy/r (1).pdf"},
			`file 4 received "r (1).pdf" 5.0 MB: /h/Downloads/Lifebuoy/r (1).pdf`},
		{EvTransfer{ID: 5, Name: "big.iso", State: TransferAborted, Detail: errFilesTurnedOff.Error()},
			`file 5 aborted "big.iso": the customer turned file transfer off`},
	} {
		if got := c.ev.Line(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

// FuzzSanitizeName: whatever the supporter sends, the name is one
// harmless element within the length limit, or refused.
func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{"../../etc/passwd", "con.txt", "a\u202eb", "..", "x/y\\z", strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := sanitizeName(in)
		if err != nil {
			return
		}
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\<>:\"|?*\x00") || len(s) > maxNameBytes ||
			strings.HasPrefix(s, ".") || strings.HasSuffix(s, " ") {
			t.Fatalf("sanitizeName(%q) = %q", in, s)
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f || r == 0x202e {
				t.Fatalf("sanitizeName(%q) = %q keeps %U", in, s, r)
			}
		}
		if stem, _, _ := strings.Cut(s, "."); reservedName(strings.TrimRight(stem, " ")) {
			t.Fatalf("sanitizeName(%q) = %q is a device name", in, s)
		}
	})
}

// FuzzHomePath: whatever path the supporter asks for, what the agent
// opens is inside the home folder (symbolic links followed), or nothing.
func FuzzHomePath(f *testing.F) {
	if runtime.GOOS == "windows" {
		f.Skip("symbolic links need a privilege on Windows")
	}
	root := f.TempDir()
	home := filepath.Join(root, "home")
	os.MkdirAll(filepath.Join(home, "docs", "deep"), 0o700)
	os.WriteFile(filepath.Join(home, "docs", "a.txt"), []byte("a"), 0o600)
	os.WriteFile(filepath.Join(root, "secret"), []byte("s"), 0o600)
	os.Symlink(filepath.Join(root, "secret"), filepath.Join(home, "out"))
	os.Symlink(root, filepath.Join(home, "docs", "up"))
	os.Symlink("../..", filepath.Join(home, "docs", "deep", "rel"))
	os.Symlink(filepath.Join(home, "docs"), filepath.Join(home, "in"))
	realHome, _ := filepath.EvalSymlinks(home)
	for _, s := range []string{"", "docs/a.txt", "in/a.txt", "../secret", "out", "docs/up/secret", "docs/deep/rel/..",
		"docs/deep/rel/../secret", "/etc/passwd", `..\..\secret`, "a\x00b", "./docs//deep/../a.txt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		p, err := homePath(home, rel)
		if err != nil {
			return
		}
		if !inside(realHome, p) {
			t.Fatalf("homePath(%q) = %q, outside %q", rel, p, realHome)
		}
		if real, err := filepath.EvalSymlinks(p); err != nil || real != p {
			t.Fatalf("homePath(%q) = %q, which leads to %q (%v)", rel, p, real, err)
		}
	})
}
