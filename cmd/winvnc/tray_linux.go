//go:build linux

package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// watcherName is the D-Bus name of the StatusNotifierItem host that
// shows tray icons (KDE, GNOME with the AppIndicator extension, XFCE,
// waybar, ...).
const watcherName = "org.kde.StatusNotifierWatcher"

// trayAvailable reports whether a tray can show the icon: a session bus
// and a StatusNotifierWatcher on it. fyne.io/systray fails without them,
// so the agent falls back to the terminal UI.
//
// Only a bus on a Unix socket counts. godbus would run dbus-launch,
// found through $PATH, for an "autolaunch:" address (or for none at all),
// and a "unixexec:" address names a program to run: the agent starts no
// program on the customer's machine, so without a bus there is no tray.
// The address systray then uses is the checked one.
func trayAvailable() bool {
	addr := socketBusAddress(os.Getenv("DBUS_SESSION_BUS_ADDRESS"))
	if addr == "" {
		return false
	}
	os.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return false
	}
	defer conn.Close()
	var has bool
	err = conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, watcherName).Store(&has)
	return err == nil && has
}

// socketBusAddress keeps the Unix-socket entries of a D-Bus address list
// ("unix:path=…;autolaunch:" → "unix:path=…"), "" if none.
func socketBusAddress(addr string) string {
	var keep []string
	for _, a := range strings.Split(addr, ";") {
		if strings.HasPrefix(a, "unix:") {
			keep = append(keep, a)
		}
	}
	return strings.Join(keep, ";")
}

func trayIcon() []byte { return iconPNG(64) }
