package broker_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
)

// A files connection reaches the agent of a running session through
// OpenFiles and carries bytes both ways; an agent without the feature,
// a code that is not running and the session's end are told apart.
func TestOpenFiles(t *testing.T) {
	tb := startBroker(t, testConfig(t))
	tb.SetDesk(testDesk{})
	anna := broker.Supporter{Account: "anna", Name: "Anna Berger"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// An agent that announces files.
	cfg := tb.linkConfig("")
	cfg.Files = true
	link, err := agentlink.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	code := link.Code()
	if _, err := tb.OpenFiles(ctx, code, anna); !errors.Is(err, broker.ErrNotRelaying) {
		t.Fatalf("before the session: %v", err)
	}
	srv := rfb.NewServer(rfb.NewFramebufferFromImage(rfbtest.Pattern(16, 16, 1)), rfb.Options{})
	go func() {
		in, err := link.Accept(ctx)
		if err != nil {
			return
		}
		conn, err := in.Open(ctx)
		if err != nil {
			return
		}
		srv.ServeAuthenticated(ctx, conn, in.Version)
	}()
	// The agent's side: echo what the desk sends, upper-cased.
	go func() {
		for fr := range link.FilesRequests() {
			if fr.Supporter != anna {
				t.Errorf("files request from %+v", fr.Supporter)
			}
			c, err := fr.Open(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(io.LimitReader(c, 5))
				c.Write(bytes.ToUpper(b))
			}()
			// As the agent does: the session's end closes its transfers.
			go func() {
				<-link.Done()
				c.Close()
			}()
		}
	}()
	v, err := dialWebViewer(t, tb, rfb.ClientConfig{Password: code}, http.Header{"X-Test-Supporter": {"Anna Berger"}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	waitSession(t, tb, code, func(s broker.SessionInfo) bool { return s.State == "relaying" })

	for range 2 { // one after the other, on connections of their own
		c, err := tb.OpenFiles(ctx, code, anna)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("hallo"))
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "HALLO" {
			t.Fatalf("echo %q, %v", got, err)
		}
		c.Close()
	}

	// The session's end closes a files connection that is open (the
	// agent's side closes it).
	c, err := tb.OpenFiles(ctx, code, anna)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := tb.EndSession(code, anna, ""); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the files connection outlived the session: %v", err)
	}
	// Gone, or on its way out (the link closed, the code not yet void).
	if _, err := tb.OpenFiles(ctx, code, anna); !errors.Is(err, broker.ErrNoSession) && !errors.Is(err, broker.ErrNoLink) {
		t.Fatalf("after the end: %v", err)
	}

	// An agent that does not announce files is never asked.
	a := startAgent(t, tb, "", rfbtest.Pattern(16, 16, 1), "")
	v2, err := dialWebViewer(t, tb, rfb.ClientConfig{Password: a.link.Code()}, http.Header{"X-Test-Supporter": {"Anna"}})
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	waitSession(t, tb, a.link.Code(), func(s broker.SessionInfo) bool { return s.State == "relaying" })
	if _, err := tb.OpenFiles(ctx, a.link.Code(), anna); !errors.Is(err, broker.ErrNoFiles) {
		t.Fatalf("agent without files: %v", err)
	}
}
