//go:build interop && linux

package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest/pgtest"
)

var server *pgtest.Server

func TestMain(m *testing.M) {
	var err error
	server, err = pgtest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "postgres:", err)
		os.Exit(1)
	}
	code := m.Run()
	server.Remove()
	os.Exit(code)
}

// nodes opens n directories on one fresh database, running until the
// test ends.
func nodes(t *testing.T, n int, hb time.Duration) []*Directory {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dsn, err := server.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*Directory
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		for _, d := range out {
			d.Close()
		}
	})
	for i := range n {
		d, err := Open(ctx, Config{DSN: dsn, Node: string(rune('a' + i)), PeerAddr: fmt.Sprintf("127.0.0.1:%d", 7000+i),
			Heartbeat: hb}, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
		wg.Go(func() { d.Run(ctx) })
	}
	return out
}

// eventually polls cond every 20 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

// Three nodes claim the same codes at once: each code goes to exactly one.
func TestClaimUniqueUnderConcurrency(t *testing.T) {
	ds := nodes(t, 3, time.Second)
	exp := time.Now().Add(10 * time.Minute)
	const codes = 200
	won := make([][]bool, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		won[i] = make([]bool, codes)
		wg.Go(func() {
			for c := range codes {
				ok, err := d.Claim(context.Background(), fmt.Sprint(100000+c), exp, Holder{})
				if err != nil {
					t.Error(err)
					return
				}
				won[i][c] = ok
			}
		})
	}
	wg.Wait()
	for c := range codes {
		n := 0
		for i := range ds {
			if won[i][c] {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("code %d claimed by %d nodes", 100000+c, n)
		}
	}
}

// The replica follows claims and releases on other nodes through NOTIFY,
// and a VNC Authentication response finds its code and home node.
func TestReplicaAndMatch(t *testing.T) {
	ds := nodes(t, 2, time.Second)
	a, b := ds[0], ds[1]
	// Open resyncs once; Run's listener resyncs again once LISTEN is in
	// effect. Before that a's claim could reach b by that resync instead
	// of a notification.
	eventually(t, "b listens", func() bool { return b.Stats(time.Now()).Resyncs >= 2 })
	if ok, err := a.Claim(context.Background(), "482913", time.Now().Add(time.Minute), Holder{}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	eventually(t, "b sees a's code", func() bool { _, _, ok := b.Home("482913", time.Now()); return ok })
	node, peer, _ := b.Home("482913", time.Now())
	if node != "a" || peer != "127.0.0.1:7000" {
		t.Fatalf("home %q %q", node, peer)
	}
	if _, _, ok := a.Home("482913", time.Now()); ok {
		t.Fatal("a node forwards its own code")
	}
	ch := []byte("0123456789abcdef")
	resp := rfb.VNCAuthResponse(ch, "482913")
	if code, node, _, ok := b.MatchVNCAuth(ch, resp, time.Now()); !ok || code != "482913" || node != "a" {
		t.Fatalf("match %q %q %v", code, node, ok)
	}
	if _, _, _, ok := b.MatchVNCAuth(ch, rfb.VNCAuthResponse(ch, "111111"), time.Now()); ok {
		t.Fatal("a wrong response matched")
	}
	if err := a.Release(context.Background(), "482913"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b drops the released code", func() bool { _, _, ok := b.Home("482913", time.Now()); return !ok })
	if b.Stats(time.Now()).Notifies < 2 {
		t.Fatal("the replica was not fed by notifications")
	}
}

// A supporter's code that waits for its agent is found by another node
// with its home's agent address (a redirect), and no longer once its
// agent came; an agent's code moves to another node with the resume
// token alone: not with a wrong token, not after it expired.
func TestAgentHomeAndReclaim(t *testing.T) {
	ctx := context.Background()
	ds := nodes(t, 2, time.Second)
	a, b := ds[0], ds[1]
	a.SetAgentAddr("127.0.0.1:6510")
	if err := a.heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b listens", func() bool { return b.Stats(time.Now()).Resyncs >= 2 })
	if err := b.heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Minute)
	if ok, err := a.Claim(ctx, "246810", exp, Holder{WantsAgent: true}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	eventually(t, "b finds the code's agent home", func() bool {
		addr, ok := b.AgentHome("246810", time.Now())
		return ok && addr == "127.0.0.1:6510"
	})
	if _, ok := a.AgentHome("246810", time.Now()); ok {
		t.Fatal("a node redirects to itself")
	}
	info := Info{Flow: "supporter-first", Since: time.UnixMilli(1700000000000), SupporterAccount: "anna",
		SupporterName: "Anna Berger", SupporterTeam: "Acme Support", Customer: "carl@pc 1", CustomerAddr: "203.0.113.7:1"}
	same := func(x Info) bool {
		y := info
		ok := x.Since.Equal(y.Since)
		x.Since, y.Since = time.Time{}, time.Time{}
		return ok && x == y
	}
	if err := a.Attached(ctx, "246810", exp, "hash-1", info); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b no longer redirects to the attached code", func() bool {
		_, ok := b.AgentHome("246810", time.Now())
		return !ok
	})
	// b lists a's code as a described it, and c does not list its own.
	eventually(t, "b lists a's code with its description", func() bool {
		l := b.Listed(time.Now())
		return len(l) == 1 && l[0].Code == "246810" && l[0].Node == "a" && !l[0].WantsAgent && same(l[0].Info)
	})
	if l := a.Listed(time.Now()); len(l) != 0 {
		t.Fatalf("a lists its own codes: %+v", l)
	}
	for _, h := range []string{"", "hash-2"} {
		if _, _, ok, err := b.Reclaim(ctx, "246810", h); ok || err != nil {
			t.Fatalf("reclaim with %q: %v %v", h, ok, err)
		}
	}
	got, gotInfo, ok, err := b.Reclaim(ctx, "246810", "hash-1")
	if !ok || err != nil || got.Sub(exp).Abs() > time.Millisecond {
		t.Fatalf("reclaim with the token: %v %v %v (expires %v, want %v)", ok, err, got, got, exp)
	}
	if !same(gotInfo) {
		t.Fatalf("the code taken over is described %+v, want %+v", gotInfo, info)
	}
	eventually(t, "a sees the code homed on b", func() bool {
		node, _, ok := a.Home("246810", time.Now())
		return ok && node == "b"
	})
	// A customer's code, claimed with its token, past its time.
	if ok, _ := a.Claim(ctx, "135790", time.Now().Add(50*time.Millisecond), Holder{ResumeHash: "hash-3"}); !ok {
		t.Fatal("claim")
	}
	time.Sleep(100 * time.Millisecond)
	if _, _, ok, err := b.Reclaim(ctx, "135790", "hash-3"); ok || err != nil {
		t.Fatalf("an expired code was taken over: %v %v", ok, err)
	}
}

// A node that stops heartbeating is dead after DeadAfter: its codes leave
// the others' view and can be claimed again.
func TestDeadNodeCodesTakenOver(t *testing.T) {
	ctx := context.Background()
	ds := nodes(t, 2, 200*time.Millisecond)
	a, b := ds[0], ds[1]
	if ok, _ := a.Claim(ctx, "555555", time.Now().Add(time.Hour), Holder{}); !ok {
		t.Fatal("claim")
	}
	if ok, _ := b.Claim(ctx, "555555", time.Now().Add(time.Hour), Holder{}); ok {
		t.Fatal("a live node's code was taken")
	}
	eventually(t, "b sees a's code", func() bool { _, _, ok := b.Home("555555", time.Now()); return ok })
	// a dies: no more heartbeats.
	a.Close()
	eventually(t, "a's code is claimable once a is dead", func() bool {
		ok, _ := b.Claim(ctx, "555555", time.Now().Add(time.Hour), Holder{})
		return ok
	})
	eventually(t, "b counts one live node of two, and a's code gone", func() bool {
		st := b.Stats(time.Now())
		_, _, home := b.Home("555555", time.Now())
		return st.LiveNodes == 1 && st.Nodes == 2 && !home
	})
}

// PostgreSQL stopped: claims fail with ErrDatabase and the node says it is
// down; restarted: the node recovers by itself, notifications included.
func TestDatabaseDownAndBack(t *testing.T) {
	ctx := context.Background()
	ds := nodes(t, 2, 200*time.Millisecond)
	a, b := ds[0], ds[1]
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			server.Restart()
		}
	}()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := a.Claim(cctx, "777777", time.Now().Add(time.Minute), Holder{})
	cancel()
	if !errors.Is(err, ErrDatabase) {
		t.Fatalf("claim with the database down: %v", err)
	}
	if a.Stats(time.Now()).Up || a.Stats(time.Now()).ClaimErrors == 0 {
		t.Fatal("the node does not report the database down")
	}
	if err := server.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	eventually(t, "claims work again", func() bool {
		ok, err := a.Claim(ctx, "777777", time.Now().Add(time.Minute), Holder{})
		return ok && err == nil
	})
	eventually(t, "b's replica has the code again", func() bool { _, _, ok := b.Home("777777", time.Now()); return ok })
	if !a.Stats(time.Now()).Up {
		t.Fatal("the node still reports the database down")
	}
}
