package cluster

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// The console's list follows the notifications: a code another live node
// claims is listed with the description that came with it; a description
// from another node than the code's, or unreadable, changes nothing that
// is not its own; this node's codes and those past their time are not
// listed; a code that leaves is gone, and each change is told on Changes.
func TestListedFromNotifications(t *testing.T) {
	d := testDirectory()
	d.listed = make(chan struct{}, 1)
	exp := strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)
	in := Info{Flow: "customer-first", Customer: "carl@pc", SupporterName: "Anna Berger"}
	d.apply("add 111111 b " + exp)
	d.apply("info 111111 b " + in.encode())
	d.apply("add 222222 b " + exp)
	d.apply("want 222222 b")
	d.apply("info 222222 c {\"c\":\"mallory\"}") // not the code's node
	d.apply("info 222222 b not json")
	d.apply("add 333333 a " + exp) // this node's own
	d.apply("add 444444 b " + strconv.FormatInt(time.Now().Add(-time.Second).UnixMilli(), 10))
	select {
	case <-d.Changes():
	default:
		t.Fatal("no change told")
	}
	l := d.Listed(time.Now())
	if len(l) != 2 {
		t.Fatalf("listed %+v", l)
	}
	byCode := map[string]Listed{l[0].Code: l[0], l[1].Code: l[1]}
	if got := byCode["111111"]; got.Node != "b" || got.WantsAgent || got.Info != in {
		t.Fatalf("111111 listed as %+v", got)
	}
	if got := byCode["222222"]; !got.WantsAgent || got.Info != (Info{}) {
		t.Fatalf("222222 listed as %+v", got)
	}
	d.apply("del 111111 b")
	select {
	case <-d.Changes():
	default:
		t.Fatal("the code's end was not told")
	}
	if l := d.Listed(time.Now()); len(l) != 1 || l[0].Code != "222222" {
		t.Fatalf("after del: %+v", l)
	}
}

// An Info is stored cut to maxInfoField bytes a text, valid UTF-8, well
// within a notification's 8000 bytes.
func TestInfoBounded(t *testing.T) {
	long := strings.Repeat("ü", 1000)
	in := Info{Flow: long, Since: time.Now(), SupporterAccount: long, SupporterName: long, SupporterTeam: long,
		Customer: long, CustomerAddr: long}
	s := in.encode()
	if len(s) > 7000 {
		t.Fatalf("an Info of %d bytes", len(s))
	}
	out := decodeInfo(s)
	if len(out.Customer) > maxInfoField || !strings.HasPrefix(long, out.Customer) || out.Customer == "" {
		t.Fatalf("customer stored as %q", out.Customer)
	}
	if (Info{}).encode() != "" || decodeInfo("") != (Info{}) || decodeInfo("{") != (Info{}) {
		t.Fatal("the empty Info")
	}
}

// FuzzApply: any notification leaves the replica consistent and never
// panics.
func FuzzApply(f *testing.F) {
	exp := strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)
	for _, s := range []string{"add 111111 b " + exp, "want 111111 b", "info 111111 b {\"f\":\"customer-first\"}",
		"del 111111 b", "info  ", "info 111111", "add 1 b x", "", "want"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		d := testDirectory()
		d.listed = make(chan struct{}, 1)
		d.apply("add 111111 b " + exp)
		d.apply(payload)
		for _, l := range d.Listed(time.Now()) {
			if l.Node == "a" {
				t.Fatal("this node's code listed")
			}
		}
	})
}
