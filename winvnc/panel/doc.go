// Package panel is the customer's window, apart from any window system:
// its state, the one function that changes it, its strings in English
// and German, and its picture. The platform windows (winvnc/x11 on X11,
// winvnc/win on Windows) only blit Image, feed clicks, keys and the
// agent's events to Step, and carry out the Actions it returns, so both
// platforms look and behave the same and all of it is tested here.
//
// The window is drawn by the agent itself into an image with the Go
// fonts (golang.org/x/image/font/gofont, BSD licence): no cgo, no
// toolkit, one static binary, and the same pixels on X11 and Windows,
// which the interop tests compare.
//
//	p := panel.New(panel.Options{Brand: "Acme Support", Color: acmeBlue, Lang: panel.LangFromEnv(os.Getenv), Scale: 1})
//	p.Step(panel.Code{Code: "482913", Expires: t})
//	acts := p.Step(panel.Release{X: 40, Y: 300}) // a click: maybe []Action{panel.Answer{Yes: true}}
//	img := p.Image()                              // what the window shows now
//
// The pointing arrow (Arrow) is drawn here too: the supporter's pointer
// while the customer has not granted control.
package panel
