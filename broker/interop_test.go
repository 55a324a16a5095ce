//go:build interop && linux

package broker_test

import (
	"context"
	"fmt"
	"image"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

func exact(got, want image.Image) bool {
	n, _, _ := rfbtest.Diff(got, want)
	return n == 0
}

func port(addr string) int { return must(net.ResolveTCPAddr("tcp", addr)).Port }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TigerVNC's vncviewer attaches through the broker with the code as its
// VNC password, over plain VNC Authentication (loopback is allowed) and
// over VeNCrypt X509Vnc with the broker's certificate as its CA; both
// flows. A capture of its Xvfb must equal the agent's picture.
func TestInteropTigerVNCThroughBroker(t *testing.T) {
	rfbtest.LookPath(t, "vncviewer", "Xvfb", "xwd")
	const w, h = 320, 240
	tb := startBroker(t, testConfig(t))
	for _, tc := range []struct {
		name, security string
		supporterFirst bool
		viewerFirst    bool // the viewer comes before the agent and waits
	}{
		{"vncauth-customer-first", "VncAuth", false, false},
		// TigerVNC's own choice: the broker lists VeNCrypt first, and
		// TigerVNC takes the server's order, so it gets TLS.
		{"default-security", "", false, false},
		{"x509vnc-supporter-first", "X509Vnc", true, false},
		{"x509vnc-viewer-before-agent", "X509Vnc", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := rfbtest.Pattern(w, h, 12)
			code := ""
			if tc.supporterFirst {
				code = must3(tb.Codes().Issue(nil))
			}
			var a *testAgent
			if !tc.viewerFirst {
				a = startAgent(t, tb, code, src, "")
				code = a.link.Code()
			}
			pwFile := filepath.Join(t.TempDir(), "passwd")
			if err := os.WriteFile(pwFile, rfbtest.VNCPasswdFile(code), 0o600); err != nil {
				t.Fatal(err)
			}
			x := rfbtest.StartXvfb(t, w, h, 24)
			args := []string{"-FullScreen", "-AutoSelect=0", "-NoJPEG=1", "-X509CA=" + filepath.Join(tb.dir, "broker-cert.pem"),
				"-passwd", pwFile, fmt.Sprintf("127.0.0.1::%d", port(tb.viewerAddr))}
			if tc.security != "" {
				args = append([]string{"-SecurityTypes=" + tc.security}, args...)
			}
			viewer := rfbtest.Start(t, x.Env(), "vncviewer", args...)
			if tc.viewerFirst {
				for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					if st, _ := tb.Codes().Lookup(code); st == broker.StateViewerWaiting {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("vncviewer did not start waiting for the agent\nviewer output:\n%s", viewer.Output())
					}
				}
				time.Sleep(2 * time.Second) // a late customer
				startAgent(t, tb, code, src, "")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := rfbtest.WaitForImage(ctx, x.Capture, src, exact); err != nil {
				t.Fatalf("viewer does not show the agent's picture: %v\nviewer output:\n%s", err, viewer.Output())
			}
			if tc.security == "" {
				audit, _ := os.ReadFile(filepath.Join(tb.dir, broker.AuditFile))
				if !strings.Contains(string(audit), `"code":"`+code+`","viewer"`) ||
					!strings.Contains(string(audit), `"security":"VeNCrypt/X509Vnc"`) {
					t.Fatalf("TigerVNC with its default security types did not get X509Vnc:\n%s", audit)
				}
			}
		})
	}
}

// gvnccapture attaches through the broker with the code as password. It
// prefers VeNCrypt, so it gets the broker's certificate as its CA from
// /etc/pki/CA/cacert.pem, where gtk-vnc looks, and connects by the name
// "localhost", because gtk-vnc matches the certificate by host name only.
func TestInteropGVNCCaptureThroughBroker(t *testing.T) {
	rfbtest.LookPath(t, "gvnccapture")
	tb := startBroker(t, testConfig(t))
	pem, err := os.ReadFile(filepath.Join(tb.dir, "broker-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	rfbtest.TrustForGTKVNC(t, pem)
	src := rfbtest.Pattern(400, 300, 13)
	a := startAgent(t, tb, "", src, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := rfbtest.GVNCCaptureHost(t, ctx, "localhost", port(tb.viewerAddr), a.link.Code())
	if err != nil {
		t.Fatal(err)
	}
	if n, first, detail := rfbtest.Diff(got, src); n != 0 {
		t.Fatalf("gvnccapture differs in %d pixels, first at %v: %s", n, first, detail)
	}
	// The code is spent: a second capture is refused.
	if _, err := rfbtest.GVNCCaptureHost(t, ctx, "localhost", port(tb.viewerAddr), a.link.Code()); err == nil {
		t.Fatal("a spent code was accepted")
	}
}

func must3[A, B any](a A, _ B, err error) A { return must(a, err) }

var _ = rfb.Version38
