package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

//go:embed static
var static embed.FS

// NoVNC is noVNC's files: core/, vendor/, LICENSE.txt, AUTHORS and docs/
// with its licence texts. It is empty when `make web` was not run.
func NoVNC() fs.FS {
	sub, err := fs.Sub(dist, "dist/novnc")
	if err != nil {
		panic(err) // fs.Sub fails only on an invalid path
	}
	return sub
}

// NoVNCBuilt reports whether noVNC was copied in before the build.
func NoVNCBuilt() bool {
	_, err := fs.Stat(dist, "dist/novnc/core/rfb.js")
	return err == nil
}

// Static is the console's own files: its style sheet, its scripts and
// the third-party notice.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	return sub
}

// NoVNCVersion is the noVNC release that package-lock.json pins.
const NoVNCVersion = "1.7.0"
