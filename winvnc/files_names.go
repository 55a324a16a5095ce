package winvnc

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Names and places of the files the supporter sends and fetches.

// maxNameBytes bounds a file name, after sanitising, in UTF-8 bytes (the
// common limit of file systems).
const maxNameBytes = 255

// errNameTooLong refuses a file whose name would not fit.
var errNameTooLong = errors.New("the file name is too long")

// sanitizeName makes a name the supporter sent safe to create in one
// folder on any system: only its last element counts (no separators, so
// no way out of the folder), control and bidirectional-override
// characters are dropped, characters Windows forbids become '_', leading
// and trailing dots and spaces go (no "..", no hidden files), reserved
// device names (CON, NUL, COM1...) get a '_' in front, and an empty
// result is "file". A result longer than maxNameBytes is refused.
func sanitizeName(name string) (string, error) {
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	var b strings.Builder
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f:
			// Bidirectional overrides make "gpj.exe" look like "exe.jpg".
		case strings.ContainsRune(`<>:"|?*`, r), r == utf8.RuneError:
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	s := strings.Trim(b.String(), " .")
	if s == "" {
		s = "file"
	}
	stem, _, _ := strings.Cut(s, ".")
	if reservedName(strings.TrimRight(stem, " ")) {
		s = "_" + s
	}
	if len(s) > maxNameBytes {
		return "", fmt.Errorf("%w (%d bytes; at most %d)", errNameTooLong, len(s), maxNameBytes)
	}
	return s, nil
}

// reservedName reports Windows' device names, which name no file in any
// folder.
func reservedName(stem string) bool {
	switch u := strings.ToUpper(stem); u {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	default:
		return len(u) == 4 && (strings.HasPrefix(u, "COM") || strings.HasPrefix(u, "LPT")) &&
			u[3] >= '1' && u[3] <= '9'
	}
}

// numberedName is the nth alternative of name: "report.pdf" →
// "report (2).pdf".
func numberedName(name string, n int) string {
	if n == 0 {
		return name
	}
	ext := filepath.Ext(name)
	if ext == name || len(ext) > 16 {
		ext = ""
	}
	return fmt.Sprintf("%s (%d)%s", strings.TrimSuffix(name, ext), n, ext)
}

// maxNumbered bounds the numbered names tried.
const maxNumbered = 10000

// reserveName creates, and so reserves, the first of name's numbered
// names that does not exist in dir, never replacing a file; it returns
// the name.
func reserveName(dir, name string) (string, error) {
	for n := range maxNumbered {
		cand := numberedName(name, n)
		f, err := os.OpenFile(filepath.Join(dir, cand), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return cand, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%d files named like %q exist already", maxNumbered, name)
}

// errOutsideHome refuses a path that leads out of the home folder.
var errOutsideHome = errors.New("the path leads outside the customer's home folder")

// homePath resolves rel ('/'-separated, relative to home) to a real
// path inside home, following symbolic links: a link that leaves home is
// refused, as is "..".
func homePath(home, rel string) (string, error) {
	if strings.ContainsRune(rel, 0) {
		return "", errors.New("the path holds a NUL")
	}
	realHome, err := filepath.EvalSymlinks(home)
	if err != nil {
		return "", err
	}
	clean := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(rel)), "/")
	real, err := filepath.EvalSymlinks(filepath.Join(realHome, filepath.FromSlash(clean)))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", errors.New("no such file or folder in the customer's home folder")
		}
		return "", err
	}
	if !inside(realHome, real) {
		return "", errOutsideHome
	}
	return real, nil
}

// inside reports whether p is root or below it.
func inside(root, p string) bool {
	r, err := filepath.Rel(root, p)
	return err == nil && !filepath.IsAbs(r) && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
}

// homeRel is p relative to home, '/'-separated, for the supporter.
func homeRel(home, p string) string {
	realHome, err := filepath.EvalSymlinks(home)
	if err != nil {
		return ""
	}
	r, err := filepath.Rel(realHome, p)
	if err != nil || r == "." {
		return ""
	}
	return filepath.ToSlash(r)
}
