//go:build windows

package main

// trayAvailable: Windows always has a notification area.
func trayAvailable() bool { return true }

func trayIcon() []byte { return iconICO(32) }
