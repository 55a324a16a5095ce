package winvnc

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/wsconn"
	"lifebuoy/rfb"
)

// deskOf names every viewer of the HTTPS front Anna Berger.
type deskOf struct{ s broker.Supporter }

func (d deskOf) Handler() http.Handler { return http.NotFoundHandler() }
func (d deskOf) Identify(*http.Request) (broker.Supporter, bool) {
	return d.s, true
}

// The customer is asked by the supporter's name, the supporter's request
// for control is put to the customer, the rights reach the console, and
// the console's End ends the agent.
func TestAgentWithDesk(t *testing.T) {
	p := newFakePlatform(64, 48)
	tb := startBroker(t)
	anna := broker.Supporter{Account: "anna", Name: "Anna Berger", Team: "Acme Support"}
	tb.SetDesk(deskOf{anna})
	a := startAgent(t, Config{Broker: tb.agentAddr, Fingerprint: tb.Fingerprint(), Proxy: "direct", openPlatform: withFake(p)})
	code := a.expect(`^code (\d{6})$`)[1]

	ch := make(chan any, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		ws, err := wsconn.Dial(ctx, "wss://"+tb.httpsAddr+"/rfb", wsconn.DialOptions{TLS: &tls.Config{InsecureSkipVerify: true}})
		if err != nil {
			ch <- err
			return
		}
		c, err := rfb.NewClient(ctx, ws, rfb.ClientConfig{Password: code})
		if err != nil {
			ch <- err
			return
		}
		t.Cleanup(func() { c.Close() })
		ch <- &viewer{t: t, conn: ws, c: c}
	}()
	a.expect(`^prompt Allow Anna Berger \(Acme Support\) to see your screen\? \[y/n\]$`)
	a.send("y")
	v := mustViewer(t, ch)
	v.syncTo("the picture", same(p.src))
	a.expect(`^state sharing Anna Berger \(Acme Support\) sees your screen`)

	session := func(ok func(broker.SessionInfo) bool) {
		t.Helper()
		for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for _, s := range tb.Sessions() {
				if s.Code == code && ok(s) {
					return
				}
			}
		}
		t.Fatalf("the console never saw it: %+v", tb.Sessions())
	}
	session(func(s broker.SessionInfo) bool { return s.RightsKnown && !s.Control && s.Supporter == anna })

	if err := tb.RequestControl(code, anna); err != nil {
		t.Fatal(err)
	}
	a.expect(`^prompt Anna Berger \(Acme Support\) asks to control your mouse and keyboard\. Allow\?`)
	a.send("y")
	a.expect(`^rights control=on`)
	session(func(s broker.SessionInfo) bool { return s.Control })
	if err := v.c.Send(&rfb.PointerEvent{X: 3, Y: 4}); err != nil {
		t.Fatal(err)
	}
	pointers := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.in.pointers)
	}
	for deadline := time.Now().Add(waitTimeout); pointers() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the supporter's pointer never arrived after control was granted")
		}
	}

	if err := tb.EndSession(code, anna, ""); err != nil {
		t.Fatal(err)
	}
	a.expect(`^state ended The session was ended: ended by Anna Berger \(Acme Support\)\.$`)
	if err := a.wait(); err != nil {
		t.Fatal(err)
	}
}
