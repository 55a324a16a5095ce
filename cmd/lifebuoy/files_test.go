package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLocalName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\eve\report.pdf`, "report.pdf"},
		{".profile", "profile"},
		{"..", "download"},
		{"", "download"},
		{"CON", "_CON"},
		{"com1.txt", "_com1.txt"},
		{"LPT³", "_LPT³"},
		{"console.log", "console.log"},
		{"a\x00b\nc", "a_b_c"},
		{"what?.txt", "what_.txt"},
		{"photo\u202egpj.exe", "photogpj.exe"},
		{strings.Repeat("ä", 200), strings.Repeat("ä", 120)},
		{"CON." + strings.Repeat("y", 300) + "txt", "_CON." + strings.Repeat("y", 235)},
		{"CON" + strings.Repeat(" ", 250) + "x", "_CON"},
	} {
		if got := localName(c.in); got != c.want {
			t.Errorf("localName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzLocalName: whatever name the customer's side sends, the file
// lives in this folder, is not hidden and is not a device.
func FuzzLocalName(f *testing.F) {
	for _, s := range []string{"../../etc/passwd", `..\..\x`, ".bashrc", "CON.txt", "nul", "a\u202eb", strings.Repeat("x", 300), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s := localName(in)
		if s == "" || s == "." || s == ".." || strings.HasPrefix(s, ".") || strings.ContainsAny(s, "/\\<>:\"|?*") ||
			len(s) > maxLocalName || !utf8.ValidString(s) {
			t.Fatalf("localName(%q) = %q", in, s)
		}
		for _, r := range s {
			if r < 0x20 || r >= 0x7f && r < 0xa0 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
				t.Fatalf("localName(%q) = %q keeps %U", in, s, r)
			}
		}
		if stem, _, _ := strings.Cut(s, "."); deviceName(strings.TrimRight(stem, " ")) {
			t.Fatalf("localName(%q) = %q is a device name", in, s)
		}
	})
}
