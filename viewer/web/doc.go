// Package web holds the files the supporter's console serves as they are:
// noVNC (copied in by `make web` from the npm package pinned in
// package-lock.json, git-ignored, so that it is never committed) and the
// console's own style sheet and scripts (static/).
//
// noVNC is embedded from dist/ with the "all:" prefix, so a fresh clone
// with only the committed dist/README still builds; NoVNCBuilt then
// reports false and the console says that the browser viewer is missing.
//
//	mux.Handle("GET /novnc/", http.StripPrefix("/novnc/", http.FileServerFS(web.NoVNC())))
//	if !web.NoVNCBuilt() { ... }
package web
