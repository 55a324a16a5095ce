//go:build windows

package main

import (
	"reflect"
	"testing"
	"unicode/utf16"
)

func TestSplitMultiSelect(t *testing.T) {
	buf := func(s string) []uint16 {
		return append(utf16.Encode([]rune(s)), make([]uint16, 8)...) // NULs after
	}
	for in, want := range map[string][]string{
		`C:\Users\Eve\a.txt`:                     {`C:\Users\Eve\a.txt`},
		"C:\\Users\\Eve\x00a.txt\x00b c.txt\x00": {`C:\Users\Eve\a.txt`, `C:\Users\Eve\b c.txt`},
		"":                                       nil,
	} {
		if got := splitMultiSelect(buf(in)); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
