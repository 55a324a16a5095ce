package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lifebuoy/viewer/api"
	"lifebuoy/viewer/bridge"
)

// The binary with its desk: accounts made with "users", the REST API on
// the HTTPS front, the desk's and the broker's audit records in
// audit.jsonl, an account disabled by "users" while the broker runs
// (its token stops working and its code is voided), and a clean stop.
func TestBinaryDesk(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "lifebuoy-broker")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	users := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"users", "-data", data}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("users %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	users("a good password\n", "add", "anna", "-name", "Anna Berger", "-team", "Acme Support")
	users("a good password\n", "add", "rita", "-role", "admin")

	r := startBinary(t, bin, data)
	tlsCfg, err := bridge.PinnedTLS(r.fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	base := "https://" + r.addrs["https"]
	ctx := context.Background()
	anon := api.NewClient(base, "", hc)
	tok, err := anon.Login(ctx, api.LoginRequest{User: "anna", Password: "a good password"})
	if err != nil {
		t.Fatalf("login: %v\n%s", err, r.stderr)
	}
	anna := api.NewClient(base, tok.Token, hc)
	code, err := anna.NewCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rtok, err := anon.Login(ctx, api.LoginRequest{User: "rita", Password: "a good password"})
	if err != nil {
		t.Fatal(err)
	}
	rita := api.NewClient(base, rtok.Token, hc)
	if ss, err := rita.Sessions(ctx, true); err != nil || len(ss) != 1 || ss[0].Code != code.Code || ss[0].Supporter.Name != "Anna Berger" {
		t.Fatalf("all sessions: %+v %v", ss, err)
	}

	// Disabled from the command line while the broker runs.
	users("", "disable", "anna")
	if _, err := anna.Me(ctx); !api.IsCode(err, "unauthorized") {
		t.Fatalf("a disabled account's token: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ss, err := rita.Sessions(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a disabled account's code lives: %+v", ss)
		}
		time.Sleep(100 * time.Millisecond)
	}

	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, r.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the broker did not stop")
	}
	audit, err := os.ReadFile(filepath.Join(data, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"msg":"desk: API token issued","account":"anna"`, `"msg":"code issued","code":"` + code.Code + `"`,
		`"supporter":"anna"`, `the supporter's account was disabled`} {
		if !strings.Contains(string(audit), want) {
			t.Errorf("audit.jsonl lacks %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "desk.db")); err != nil {
		t.Fatal(err)
	}
}
