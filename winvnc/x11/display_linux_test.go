//go:build linux

package x11

import (
	"errors"
	"testing"
)

func TestOpenNoServer(t *testing.T) {
	if _, err := Open(":65000", nil); err == nil {
		t.Fatal("Open of a display with no server succeeded")
	}
}

func TestGuardRecovers(t *testing.T) {
	err := guard(func() error { panic("xtest.Init(connObj) must be called first") })
	if err == nil {
		t.Fatal("panic not turned into an error")
	}
	want := errors.New("plain")
	if err := guard(func() error { return want }); err != want {
		t.Fatalf("guard changed the error: %v", err)
	}
	if ExtDamage.String() != "DAMAGE" || Extension(99).String() != "Extension(99)" {
		t.Error("Extension.String")
	}
}
