//go:build !windows

package winvnc

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// downloadsDir is the customer's Downloads folder: XDG_DOWNLOAD_DIR from
// user-dirs.dirs (as desktops localise it: "Downloads", "Téléchargements"),
// else ~/Downloads.
func downloadsDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	cfg := os.Getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		cfg = filepath.Join(home, ".config")
	}
	if f, err := os.Open(filepath.Join(cfg, "user-dirs.dirs")); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "XDG_DOWNLOAD_DIR=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"`)
			if rest, ok := strings.CutPrefix(v, "$HOME"); ok {
				v = filepath.Join(home, rest)
			}
			// A value of $HOME alone means "no Downloads folder".
			if filepath.IsAbs(v) && filepath.Clean(v) != filepath.Clean(home) {
				return v, nil
			}
		}
	}
	return filepath.Join(home, "Downloads"), nil
}

// diskFull reports a write that failed for want of space.
func diskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
