package rfb

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// AcceptSecurity as a broker uses it: the response is checked against
// several passwords after the exchange, the verdict waits, and the
// connection then carries on to a server that takes over after the
// handshake.
func TestAcceptSecurityDeferredVerdict(t *testing.T) {
	cert := testCertificate(t)
	for _, tc := range []struct {
		name     string
		cfg      ClientConfig
		password string
		wantOK   bool
	}{
		{"vncauth-match", ClientConfig{Password: "482913"}, "482913", true},
		{"vncauth-wrong", ClientConfig{Password: "111111"}, "482913", false},
		{"x509vnc-match", ClientConfig{Password: "482913", Security: []SecurityType{SecVeNCrypt}}, "482913", true},
		{"vncauth-3.3", ClientConfig{Password: "482913", MaxVersion: Version33}, "482913", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fb := NewFramebuffer(8, 8)
			srv := NewServer(fb, Options{})
			live := []string{"100000", tc.password, "999999"}
			client, server := net.Pipe()
			defer client.Close()
			type result struct {
				c   *Client
				err error
			}
			got := make(chan result, 1)
			go func() {
				cfg := tc.cfg
				if cfg.Security != nil {
					cfg.TLSConfig = &tls.Config{RootCAs: certPool(cert), ServerName: "127.0.0.1"}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, err := NewClient(ctx, client, cfg)
				got <- result{c, err}
			}()
			server.SetDeadline(time.Now().Add(10 * time.Second))
			hs, err := AcceptSecurity(server, SecurityConfig{
				Types:            []SecurityType{SecVeNCrypt, SecVNCAuth},
				VeNCryptSubtypes: []VeNCryptSubtype{VeNCryptX509Vnc},
				TLSConfig:        &tls.Config{Certificates: []tls.Certificate{cert}},
			})
			if err != nil {
				t.Fatal(err)
			}
			matched := ""
			for _, p := range live {
				if hs.CheckVNCAuth(p) {
					matched = p
				}
			}
			if (matched != "") != tc.wantOK {
				t.Fatalf("matched %q, want ok=%v", matched, tc.wantOK)
			}
			if !tc.wantOK {
				hs.Refuse("no session with that code")
				r := <-got
				var ae *AuthError
				if !errors.As(r.err, &ae) {
					t.Fatalf("client error %v, want AuthError", r.err)
				}
				if hs.Version == Version38 && ae.Reason != "no session with that code" {
					t.Fatalf("reason %q", ae.Reason)
				}
				return
			}
			if err := hs.Accept(); err != nil {
				t.Fatal(err)
			}
			server.SetDeadline(time.Time{})
			go srv.ServeAuthenticated(context.Background(), hs.Conn, hs.Version)
			r := <-got
			if r.err != nil {
				t.Fatal(r.err)
			}
			if w, h := r.c.Size(); w != 8 || h != 8 {
				t.Fatalf("size %dx%d", w, h)
			}
			r.c.Close()
		})
	}
}

// RefuseConnection's reason reaches the client at every version.
func TestRefuseConnection(t *testing.T) {
	for _, v := range []Version{Version33, Version37, Version38} {
		a, b := net.Pipe()
		go func() {
			defer a.Close()
			RefuseConnection(a, "Too many wrong codes; try again in 40 s")
		}()
		_, err := NewClient(context.Background(), b, ClientConfig{MaxVersion: v, Password: "x"})
		b.Close()
		var re *RefusedError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "try again in 40 s") {
			t.Fatalf("%v: %v", v, err)
		}
	}
}
