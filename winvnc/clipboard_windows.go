//go:build windows

package winvnc

import "lifebuoy/winvnc/win"

// openClipboard follows the Windows clipboard.
func (p *winPlatform) openClipboard(max int) (clipboard, error) {
	return win.NewClipboard(p.d, max)
}

var _ clipboardPlatform = (*winPlatform)(nil)
