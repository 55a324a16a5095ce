//go:build !linux && !windows

package main

import (
	"context"

	"lifebuoy/winvnc"
)

// fileChooser: no desktop file chooser here.
func fileChooser() func(context.Context, string) ([]string, error) { return nil }

func trayAvailable() bool { return false }

func runWithTray(agent func(ui winvnc.UI) int, term winvnc.UI) int { return agent(term) }
