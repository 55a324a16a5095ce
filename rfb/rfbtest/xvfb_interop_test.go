//go:build interop && linux

package rfbtest

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"strconv"
	"strings"
	"testing"
	"time"
)

var orange = color.RGBA{0xff, 0x80, 0x00, 0xff}

// TestXvfb checks StartXvfb and Capture (xwd + DecodeXWD) against a real
// Xvfb at both depths the interop tests use.
func TestXvfb(t *testing.T) {
	tests := []struct {
		depth   int
		compare func(got, want image.Image) bool
	}{
		{24, nil},
		{16, func(got, want image.Image) bool {
			n, _, _ := Diff(Quantize(got, 31, 63, 31), Quantize(want, 31, 63, 31))
			return n == 0
		}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("depth%d", tt.depth), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			x := StartXvfb(t, 320, 200, tt.depth)
			if _, err := Run(t, ctx, x.Env(), "xsetroot", "-solid", "#ff8000"); err != nil {
				t.Fatal(err)
			}
			want := uniform(320, 200, orange)
			got, err := WaitForImage(ctx, x.Capture, want, tt.compare)
			if err != nil {
				t.Fatal(err)
			}
			if tt.depth == 16 {
				// 0x80 green is 32 of 63 on the 565 screen.
				if c := got.RGBAAt(0, 0); c != (color.RGBA{255, 130, 0, 255}) {
					t.Errorf("pixel = %v, want 565-rounded orange", c)
				}
			}
		})
	}
}

// TestGVNCCapture checks GVNCCapture against x11vnc serving an Xvfb, with
// and without VNC Authentication.
func TestGVNCCapture(t *testing.T) {
	for _, password := range []string{"", "s3cret"} {
		t.Run("password="+strconv.Quote(password), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			x := StartXvfb(t, 320, 200, 24)
			if _, err := Run(t, ctx, x.Env(), "xsetroot", "-solid", "#ff8000"); err != nil {
				t.Fatal(err)
			}
			port := FreePort(t)
			// -nocursor: x11vnc paints the pointer into the pixels of a
			// client that does not take the Cursor pseudo-encoding, and
			// gvnccapture does not.
			args := []string{"-display", x.Display, "-rfbport", strconv.Itoa(port), "-forever", "-shared", "-norc", "-nocursor"}
			if password == "" {
				args = append(args, "-nopw")
			} else {
				args = append(args, "-passwd", password)
			}
			Start(t, x.Env(), "x11vnc", args...)
			if err := WaitListening(ctx, port); err != nil {
				t.Fatal(err)
			}
			capture := func() (*image.RGBA, error) {
				// Bound each capture, so that one that hangs does not
				// use up the whole test.
				cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
				defer ccancel()
				return GVNCCapture(t, cctx, port, password)
			}
			if _, err := WaitForImage(ctx, capture, uniform(320, 200, orange), nil); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		x := StartXvfb(t, 64, 64, 24)
		port := FreePort(t)
		vnc := Start(t, x.Env(), "x11vnc", "-display", x.Display, "-rfbport", strconv.Itoa(port), "-forever", "-norc", "-passwd", "right")
		if err := WaitListening(ctx, port); err != nil {
			t.Fatal(err)
		}
		_, err := GVNCCapture(t, ctx, port, "wrong")
		if err == nil {
			t.Fatal("capture with the wrong password succeeded")
		}
		if ctx.Err() != nil {
			t.Fatalf("capture hung instead of failing: %v", err)
		}
		if !strings.Contains(vnc.Output(), "password check failed") {
			t.Fatalf("x11vnc did not see a wrong password; capture error: %v", err)
		}
		t.Logf("as expected: %v", err)
	})
}
