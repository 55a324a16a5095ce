//go:build windows

package winvnc

import (
	"errors"

	"golang.org/x/sys/windows"
)

// downloadsDir is the customer's Downloads folder (FOLDERID_Downloads,
// wherever the customer moved it).
func downloadsDir() (string, error) {
	return windows.KnownFolderPath(windows.FOLDERID_Downloads, 0)
}

// diskFull reports a write that failed for want of space.
func diskFull(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}
