package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSocketBusAddress(t *testing.T) {
	for in, want := range map[string]string{
		"":                                      "",
		"autolaunch:":                           "",
		"unixexec:path=/bin/sh,argv1=-c":        "",
		"tcp:host=127.0.0.1,port=1":             "",
		"unix:path=/run/user/1000/bus":          "unix:path=/run/user/1000/bus",
		"unix:abstract=/tmp/x;autolaunch:":      "unix:abstract=/tmp/x",
		"autolaunch:;unix:path=/a;unix:path=/b": "unix:path=/a;unix:path=/b",
	} {
		if got := socketBusAddress(in); got != want {
			t.Errorf("socketBusAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

// With DBUS_SESSION_BUS_ADDRESS=autolaunch: the agent does not run the
// dbus-launch it would find through $PATH (here one that leaves a mark),
// and shows no tray (nor a file chooser, which the tray offers).
func TestTrayNeverAutolaunches(t *testing.T) {
	dir := t.TempDir()
	mark := filepath.Join(dir, "ran")
	script := "#!/bin/sh\n: >" + mark + "\necho DBUS_SESSION_BUS_ADDRESS=unix:path=" + dir + "/none\n"
	if err := os.WriteFile(filepath.Join(dir, "dbus-launch"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	t.Setenv("XDG_RUNTIME_DIR", dir) // no bus socket to discover there
	for _, addr := range []string{"autolaunch:", "", "unixexec:path=" + filepath.Join(dir, "dbus-launch")} {
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
		if trayAvailable() {
			t.Errorf("%q: a tray", addr)
		}
		if _, err := pickFiles(t.Context(), "Send files"); err == nil {
			t.Errorf("%q: a file chooser", addr)
		}
		if _, err := os.Stat(mark); err == nil {
			t.Fatalf("%q: dbus-launch from $PATH ran", addr)
		}
	}
}
