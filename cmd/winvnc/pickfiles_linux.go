//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/godbus/dbus/v5"
)

// fileChooser is pickFiles where there is a session bus to reach the
// portal on, else nil: the window shows no "Send files…" that cannot work.
func fileChooser() func(context.Context, string) ([]string, error) {
	if socketBusAddress(os.Getenv("DBUS_SESSION_BUS_ADDRESS")) == "" {
		return nil
	}
	return pickFiles
}

// pickFiles asks the customer to choose files to send, with the
// desktop's own file chooser through the XDG desktop portal
// (org.freedesktop.portal.FileChooser.OpenFile on the session bus, which
// every desktop with a tray provides). It returns the chosen paths; none
// if the customer cancelled.
//
// The portal answers with a Response signal on a request object whose
// path the caller can know beforehand (from its bus name and a
// handle_token), so the signal is subscribed to before the call.
func pickFiles(ctx context.Context, title string) ([]string, error) {
	// Only a bus on a Unix socket, as for the tray: godbus would run
	// dbus-launch from $PATH for "autolaunch:" or no address at all.
	addr := socketBusAddress(os.Getenv("DBUS_SESSION_BUS_ADDRESS"))
	if addr == "" {
		return nil, errors.New("no session bus")
	}
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("no session bus: %w", err)
	}
	defer conn.Close()
	b := make([]byte, 8)
	rand.Read(b)
	token := "lifebuoy" + hex.EncodeToString(b)
	sender := strings.ReplaceAll(strings.TrimPrefix(conn.Names()[0], ":"), ".", "_")
	path := dbus.ObjectPath("/org/freedesktop/portal/desktop/request/" + sender + "/" + token)
	if err := conn.AddMatchSignalContext(ctx, dbus.WithMatchObjectPath(path),
		dbus.WithMatchInterface("org.freedesktop.portal.Request"), dbus.WithMatchMember("Response")); err != nil {
		return nil, err
	}
	signals := make(chan *dbus.Signal, 4)
	conn.Signal(signals)
	opts := map[string]dbus.Variant{"multiple": dbus.MakeVariant(true), "handle_token": dbus.MakeVariant(token)}
	var handle dbus.ObjectPath
	err = conn.Object("org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop").CallWithContext(ctx,
		"org.freedesktop.portal.FileChooser.OpenFile", 0, "", title, opts).Store(&handle)
	if err != nil {
		return nil, fmt.Errorf("the desktop's file chooser: %w", err)
	}
	for {
		select {
		case s, ok := <-signals:
			if !ok {
				return nil, errors.New("the session bus closed")
			}
			if s.Path != handle || s.Name != "org.freedesktop.portal.Request.Response" || len(s.Body) < 2 {
				continue
			}
			if code, _ := s.Body[0].(uint32); code != 0 {
				return nil, nil // cancelled (1) or failed (2)
			}
			results, _ := s.Body[1].(map[string]dbus.Variant)
			uris, _ := results["uris"].Value().([]string)
			var paths []string
			for _, u := range uris {
				if p, err := url.Parse(u); err == nil && p.Scheme == "file" {
					paths = append(paths, p.Path)
				}
			}
			return paths, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
