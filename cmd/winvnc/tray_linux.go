//go:build linux

package main

import (
	"context"
	"os"
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
func trayAvailable() bool {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := dbus.ConnectSessionBus(dbus.WithContext(ctx))
	if err != nil {
		return false
	}
	defer conn.Close()
	var has bool
	err = conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, watcherName).Store(&has)
	return err == nil && has
}

func trayIcon() []byte { return iconPNG(64) }
