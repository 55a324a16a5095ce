//go:build interop && linux

package desk_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/rfb"
	"lifebuoy/viewer/desktest"
	"lifebuoy/winvnc/x11"
)

// BenchmarkClipboardRoundTrip times the clipboard both ways between a
// viewer with Extended Clipboard (the Go client on 5511, through the
// broker) and a program on the customer's X display (a second X
// connection that copies and pastes as any program does), with the real
// agent in between and both rights on:
//
//	to-customer: the viewer's CutText → notify, request, provide → the
//	             agent owns CLIPBOARD → the program sees the change and
//	             has the text
//	to-viewer:   the program copies → the agent fetches it → notify,
//	             request, provide → the viewer has the text
//
// One op is both legs; the medians are reported.
func BenchmarkClipboardRoundTrip(b *testing.B) {
	env := desktest.Start(b, desktest.Options{Log: slog.New(slog.DiscardHandler)})
	cust := desktest.NewCustomer(b, 320, 200)
	agent := cust.Agent(env, "")
	code := agent.Expect(`^code (\d{6})$`, desktest.WaitTimeout)[1]
	ctx := context.Background()
	type dialed struct {
		c   *rfb.Client
		err error
	}
	up := make(chan dialed, 1)
	go func() {
		conn, err := net.Dial("tcp", env.ViewerAddr)
		if err != nil {
			up <- dialed{err: err}
			return
		}
		c, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{Password: code, Security: []rfb.SecurityType{rfb.SecVNCAuth}})
		up <- dialed{c, err}
	}()
	agent.Expect(`^prompt Allow`, desktest.WaitTimeout)
	agent.Send("y")
	d := <-up
	if d.err != nil {
		b.Fatal(d.err)
	}
	v := d.c
	defer v.Close()
	env.WaitSession(b, code, desktest.WaitTimeout, func(si broker.SessionInfo) bool { return si.State == "relaying" })
	agent.Send("control on")
	agent.Expect(`control=on`, desktest.WaitTimeout)
	agent.Send("files on")
	agent.Expect(`files=on`, desktest.WaitTimeout)
	if err := v.SetEncodings(rfb.EncRaw, rfb.EncExtendedClipboard); err != nil {
		b.Fatal(err)
	}
	texts := make(chan string, 16)
	go func() {
		for {
			m, err := v.ReadMessage() // answers the server's requests itself
			if err != nil {
				close(texts)
				return
			}
			if ct, ok := m.(*rfb.ServerCutText); ok {
				texts <- ct.Text
			}
		}
	}()
	for deadline := time.Now().Add(desktest.WaitTimeout); !v.ExtendedClipboard(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("no Extended Clipboard caps from the agent")
		}
	}
	disp, err := x11.Open(cust.X.Display, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer disp.Close()
	prog, err := x11.NewClipboard(disp, 1<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer prog.Close()

	wait := func(ch <-chan string, want string) {
		b.Helper()
		t := time.NewTimer(desktest.WaitTimeout)
		defer t.Stop()
		for {
			select {
			case got, ok := <-ch:
				if !ok {
					b.Fatal("the viewer's connection ended")
				}
				if got == want {
					return
				}
			case <-t.C:
				b.Fatalf("%q never arrived", want)
			}
		}
	}
	var toCustomer, toViewer, round []float64 // ms
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ResetTimer()
	for i := range b.N {
		out := fmt.Sprintf("vom Support %d: Grüße ✓", i)
		t0 := time.Now()
		if err := v.CutText(out); err != nil {
			b.Fatal(err)
		}
		wait(prog.Changes(), out)
		t1 := time.Now()
		back := fmt.Sprintf("vom Kunden %d: äöü €", i)
		if err := prog.SetText(back); err != nil {
			b.Fatal(err)
		}
		wait(texts, back)
		toCustomer = append(toCustomer, ms(t1.Sub(t0)))
		toViewer = append(toViewer, ms(time.Since(t1)))
		round = append(round, ms(time.Since(t0)))
	}
	b.StopTimer()
	b.ReportMetric(median(toCustomer), "to-customer-ms-median")
	b.ReportMetric(median(toViewer), "to-viewer-ms-median")
	b.ReportMetric(median(round), "round-trip-ms-median")
}
