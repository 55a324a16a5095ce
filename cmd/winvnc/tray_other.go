//go:build !linux && !windows

package main

import "lifebuoy/winvnc"

func trayAvailable() bool { return false }

func runWithTray(agent func(ui winvnc.UI) int, term winvnc.UI) int { return agent(term) }
