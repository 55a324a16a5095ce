// Package rfbtest helps tests drive real RFB peers instead of mocks: it starts
// an Xvfb display, runs viewers and servers as child processes that die with
// the test, captures what a display or a VNC server shows (xwd, gvnccapture),
// and compares pixels.
//
// The package builds without tags so that go vet and staticcheck see it, but
// only tests behind //go:build interop use it; `make test` runs those. A
// missing peer fails the test with a hint to run .ci/deps.sh, it never skips.
// The process helpers are Linux-only.
//
// Smallest real use, in an interop test:
//
//	x := rfbtest.StartXvfb(t, 320, 200, 24)
//	if _, err := rfbtest.Run(t, ctx, x.Env(), "xsetroot", "-solid", "#ff8000"); err != nil {
//		t.Fatal(err)
//	}
//	got, err := rfbtest.WaitForImage(ctx, x.Capture, want, nil)
package rfbtest
