//go:build interop && linux

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"lifebuoy/broker"
	"lifebuoy/rfb"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
)

func (s *supporterCLI) run(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env, cmd.Dir = s.env, dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// "lifebuoy put" and "lifebuoy get" with the real agent: refused while
// the customer has not allowed files; then a 5 MB file and a file named
// like a path land intact in Downloads/Lifebuoy, an offered file and a
// file of the home folder come back intact, a link out of the home
// folder is refused, and a download the customer stops says why.
func TestPutGet(t *testing.T) {
	env := desktest.Start(t, desktest.Options{})
	env.AddAccount(t, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	s := loginBinary(t, env, os.Environ())
	work := t.TempDir()
	out, err := s.run(t, work, "code", "new")
	if err != nil {
		t.Fatalf("code new: %v\n%s", err, out)
	}
	code := regexp.MustCompile(`code=(\d+)`).FindStringSubmatch(out)[1]
	cust := desktest.NewCustomer(t, 320, 200)
	agent := cust.Agent(env, code)
	go func() {
		conn, err := net.Dial("tcp", env.ViewerAddr)
		if err != nil {
			return
		}
		v, err := rfb.NewClient(context.Background(), conn, rfb.ClientConfig{Password: code, Security: []rfb.SecurityType{rfb.SecVNCAuth}})
		if err == nil {
			t.Cleanup(func() { v.Close() })
		}
	}()
	agent.Expect(`^prompt Allow .* to see your screen\?`, desktest.WaitTimeout)
	agent.Send("y")
	env.WaitSession(t, code, desktest.WaitTimeout, func(si broker.SessionInfo) bool { return si.State == "relaying" })

	five := make([]byte, 5<<20)
	rand.NewChaCha8([32]byte{5}).Read(five)
	os.WriteFile(filepath.Join(work, "five.bin"), five, 0o600)
	os.WriteFile(filepath.Join(work, "a:b?.txt"), []byte("odd name"), 0o600)

	if out, err := s.run(t, work, "put", code, "five.bin"); err == nil || !strings.Contains(out, "has not allowed file transfer (F11)") {
		t.Fatalf("put without Files: %v\n%s", err, out)
	}
	agent.Send("files on")
	agent.Expect(`files=on`, desktest.WaitTimeout)
	out, err = s.run(t, work, "put", code, "five.bin", "a:b?.txt")
	if err != nil {
		t.Fatalf("put: %v\n%s", err, out)
	}
	if !strings.Contains(out, "put five.bin → Downloads/Lifebuoy/five.bin (5242880 bytes, sha256 "+sum(five)+")") ||
		!strings.Contains(out, "put a:b?.txt → Downloads/Lifebuoy/a_b_.txt") {
		t.Fatalf("put said:\n%s", out)
	}
	landed, err := os.ReadFile(filepath.Join(cust.Home, "Downloads", "Lifebuoy", "five.bin"))
	if err != nil || sum(landed) != sum(five) {
		t.Fatalf("five.bin on the customer's side: %v", err)
	}

	// get: an offered file by its name, then a file of the home folder.
	offered := filepath.Join(cust.Home, "log.txt")
	os.WriteFile(offered, []byte("the customer's log\n"), 0o600)
	agent.Send("send " + offered)
	agent.Expect(`^say Offered "log.txt"`, desktest.WaitTimeout)
	if out, err := s.run(t, work, "get", code, "log.txt"); err != nil || !strings.Contains(out, "got log.txt → log.txt") {
		t.Fatalf("get log.txt: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(work, "log.txt")); string(b) != "the customer's log\n" {
		t.Fatalf("log.txt arrived as %q", b)
	}
	if out, err := s.run(t, work, "get", "-o", "copy.bin", code, "Downloads/Lifebuoy/five.bin"); err != nil {
		t.Fatalf("get five.bin: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(work, "copy.bin")); sum(b) != sum(five) {
		t.Fatal("copy.bin differs from five.bin")
	}
	// Never replaces a local file; a link out of home is refused.
	if out, err := s.run(t, work, "get", code, "log.txt"); err == nil || !strings.Contains(out, "file exists") {
		t.Fatalf("get over an existing file: %v\n%s", err, out)
	}
	os.Symlink("/etc/hostname", filepath.Join(cust.Home, "escape"))
	if out, err := s.run(t, work, "get", code, "escape"); err == nil || !strings.Contains(out, "outside the customer's home folder") {
		t.Fatalf("get through a link out of home: %v\n%s", err, out)
	}

	// The customer turns Files off during a download (2 GiB, sparse):
	// get says why it stopped and leaves no partial file.
	big := filepath.Join(cust.Home, "big.iso")
	os.WriteFile(big, nil, 0o600)
	if err := os.Truncate(big, 2<<30); err != nil {
		t.Fatal(err)
	}
	var getOut strings.Builder
	get := exec.Command(s.bin, "get", code, "big.iso")
	get.Env, get.Dir, get.Stdout, get.Stderr = s.env, work, &getOut, &getOut
	if err := get.Start(); err != nil {
		t.Fatal(err)
	}
	agent.Expect(`^file \d+ sending "big.iso"`, desktest.WaitTimeout)
	agent.Send("files off")
	if err := get.Wait(); err == nil || !strings.Contains(getOut.String(), "the download stopped after") ||
		!strings.Contains(getOut.String(), "the customer turned file transfer off") {
		t.Fatalf("get while Files went off: %v\n%s", err, getOut.String())
	}
	if _, err := os.Stat(filepath.Join(work, "big.iso")); !os.IsNotExist(err) {
		t.Fatalf("a partial big.iso is left: %v", err)
	}
}
