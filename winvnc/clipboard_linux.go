//go:build linux

package winvnc

import "lifebuoy/winvnc/x11"

// openClipboard follows the X selections on the platform's connection.
func (p *x11Platform) openClipboard(max int) (clipboard, error) {
	return x11.NewClipboard(p.d, max)
}

var _ clipboardPlatform = (*x11Platform)(nil)
