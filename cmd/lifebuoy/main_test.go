package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"testing"

	"lifebuoy/broker"
)

func TestCodeNew(t *testing.T) {
	cfg := broker.DefaultConfig()
	cfg.DataDir = t.TempDir()
	b, err := broker.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx, broker.Listeners{Admin: l}) }()
	defer func() { cancel(); <-done }()

	var out, errb bytes.Buffer
	// Without the data directory's token the admin port refuses.
	if rc := run([]string{"code", "new", "-admin", l.Addr().String(), "-data", t.TempDir()}, &out, &errb); rc == 0 {
		t.Fatal("a code without the admin token")
	}
	out.Reset()
	if rc := run([]string{"code", "new", "-admin", l.Addr().String(), "-data", cfg.DataDir}, &out, &errb); rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	m := regexp.MustCompile(`^(\d{3}) (\d{3})\ncode=(\d{6}) expires=\S+Z\n$`).FindStringSubmatch(out.String())
	if m == nil || m[1]+m[2] != m[3] {
		t.Fatalf("output %q", out.String())
	}
	if st, ok := b.Codes().Lookup(m[3]); !ok || st != broker.StateIssued {
		t.Fatalf("code %s: %v %v", m[3], st, ok)
	}
	if rc := run([]string{"code"}, &out, &errb); rc != 2 {
		t.Fatalf("usage: exit %d", rc)
	}
}
