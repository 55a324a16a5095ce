package cluster

import (
	"context"
	"strconv"
	"testing"
	"time"
)

func testDirectory() *Directory {
	return &Directory{cfg: Config{Node: "a"}, codes: map[string]entry{}, changed: make(chan struct{}),
		nodes: map[string]Node{"a": {Name: "a", Alive: true}, "b": {Name: "b", PeerAddr: "b:5516", Alive: true}}}
}

// TestAwaitReplica: a code another node claims while a viewer waits is
// found once its notification arrives; a code that never comes is a miss
// after the wait; an ended context cuts the wait short.
func TestAwaitReplica(t *testing.T) {
	d := testDirectory()
	exp := strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)
	home := func(code string) func() bool {
		return func() bool { _, _, ok := d.Home(code, time.Now()); return ok }
	}
	// Known already: no wait.
	d.apply("add 111111 b " + exp)
	if !d.Await(context.Background(), time.Hour, home("111111")) {
		t.Fatal("a code in the replica was not found")
	}
	// Arrives during the wait, after another code's notification.
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(5 * time.Millisecond)
		d.apply("add 333333 b " + exp)
		d.apply("add 222222 b " + exp)
	}()
	if !d.Await(context.Background(), time.Minute, home("222222")) {
		t.Fatal("a code that arrived during the wait was not found")
	}
	<-done
	// Never arrives: a miss, once the (short) wait is over.
	if d.Await(context.Background(), 10*time.Millisecond, home("444444")) {
		t.Fatal("found a code nobody claimed")
	}
	// Never arrives, and the viewer's context ends: a miss without the
	// hour's wait (the test would time out otherwise).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if d.Await(ctx, time.Hour, home("444444")) {
		t.Fatal("found a code nobody claimed")
	}
	// Changes that are not the code: at most maxRechecks looks, then a
	// miss without the hour's wait.
	looks := 0
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				d.apply("add " + strconv.Itoa(500000+i%1000) + " b " + exp)
			}
		}
	}()
	found := d.Await(context.Background(), time.Hour, func() bool { looks++; return false })
	close(stop)
	if found || looks != 1+maxRechecks {
		t.Fatalf("found %v after %d looks, want a miss after %d", found, looks, 1+maxRechecks)
	}
	// A code of this node's own is not another node's.
	d.apply("add 666666 a " + exp)
	if d.Await(context.Background(), 10*time.Millisecond, home("666666")) {
		t.Fatal("this node's own code was taken for another's")
	}
}
