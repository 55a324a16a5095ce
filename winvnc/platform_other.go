//go:build !linux && !windows

package winvnc

import (
	"errors"
	"log/slog"
)

// errNoPlatform: this system's capture and input layer is not wired into
// the agent yet.
var errNoPlatform = errors.New("winvnc: screen capture is not yet wired on this system")

func openPlatform(display string, log *slog.Logger) (platform, error) {
	return nil, errNoPlatform
}

// maskSettle is 0: no capture here.
const maskSettle = 0
