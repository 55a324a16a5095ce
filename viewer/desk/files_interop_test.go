//go:build interop && linux

package desk_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/api"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
)

// filesSession is a running session between anna and the real agent on
// Xvfb, with a viewer on 5511 and anna's API client.
type filesSession struct {
	env   *desktest.Env
	cust  *desktest.Customer
	agent *rfbtest.Terminal
	cl    *api.Client
	code  string
}

// landed is the customer's Downloads/Lifebuoy.
func (f *filesSession) landed() string { return filepath.Join(f.cust.Home, "Downloads", "Lifebuoy") }

// folder lists the names in Downloads/Lifebuoy, hidden partial files too.
func (f *filesSession) folder(t *testing.T) []string {
	t.Helper()
	des, err := os.ReadDir(f.landed())
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func startFilesSession(t *testing.T) *filesSession {
	t.Helper()
	return startFilesSessionWith(t, desktest.Options{})
}

func startFilesSessionWith(t *testing.T, o desktest.Options) *filesSession {
	t.Helper()
	env := desktest.Start(t, o)
	env.AddAccount(t, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	// No overall timeout: a large upload takes what it takes.
	cl := api.NewClient(env.URL, env.Token(t, "anna"), &http.Client{Transport: env.HTTPClient().Transport})
	ctx := context.Background()
	code, err := cl.NewCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cust := desktest.NewCustomer(t, 320, 200)
	agent := cust.Agent(env, code.Code)
	viewerUp := make(chan error, 1)
	go func() {
		conn, err := net.Dial("tcp", env.ViewerAddr)
		if err != nil {
			viewerUp <- err
			return
		}
		vctx, cancel := context.WithTimeout(ctx, desktest.WaitTimeout)
		defer cancel()
		v, err := rfb.NewClient(vctx, conn, rfb.ClientConfig{Password: code.Code, Security: []rfb.SecurityType{rfb.SecVNCAuth}})
		if err == nil {
			t.Cleanup(func() { v.Close() })
		}
		viewerUp <- err
	}()
	agent.Expect(`^prompt Allow .* to see your screen\?`, desktest.WaitTimeout)
	agent.Send("y")
	if err := <-viewerUp; err != nil {
		t.Fatal(err)
	}
	env.WaitSession(t, code.Code, desktest.WaitTimeout, func(si broker.SessionInfo) bool { return si.State == "relaying" })
	return &filesSession{env: env, cust: cust, agent: agent, cl: cl, code: code.Code}
}

// randomFile writes n pseudo-random bytes to a new file and returns its
// path and SHA-256.
func randomFile(t *testing.T, name string, n int) (string, string) {
	t.Helper()
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n)})
	r.Read(b)
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

func fileSum(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func put(t *testing.T, f *filesSession, name, path string) (api.FileStored, error) {
	t.Helper()
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fi, _ := r.Stat()
	return f.cl.PutFile(context.Background(), f.code, name, fi.Size(), r)
}

func wantErr(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %v, want one saying %q", err, substr)
	}
}

// The files API with the real agent: nothing moves while Files is off;
// with it on an upload lands intact under a sanitised, numbered name, an
// offered file and a browsed one come back intact, and bad input (a
// 10,000-byte name, a link out of the home folder, a stream that lies
// about its size) gets a clear error and leaves nothing behind; every
// file is in the audit.
func TestFilesWithAgent(t *testing.T) {
	f := startFilesSession(t)
	ctx := context.Background()
	five, fiveSum := randomFile(t, "five.bin", 5<<20)

	// Files off: refused on both sides.
	_, err := put(t, f, "five.bin", five)
	wantErr(t, err, "has not allowed file transfer")
	f.agent.Expect(`^say A file from Anna Berger \(Acme Support\) was refused: the customer has not allowed file transfer`, waitTimeout)
	_, err = f.cl.ListFiles(ctx, f.code, "")
	wantErr(t, err, "has not allowed file transfer")
	if names := f.folder(t); len(names) != 0 {
		t.Fatalf("files arrived with Files off: %q", names)
	}

	f.agent.Send("files on")
	f.agent.Expect(`^rights control=off files=on`, waitTimeout)

	// A 5 MB upload, twice: intact, then numbered.
	for _, want := range []string{"five.bin", "five (1).bin"} {
		st, err := put(t, f, "five.bin", five)
		if err != nil {
			t.Fatal(err)
		}
		if st.Name != want || st.SHA256 != fiveSum || st.Size != 5<<20 || st.Folder != "Downloads/Lifebuoy" {
			t.Fatalf("stored %+v, want %s with %s", st, want, fiveSum)
		}
		if got := fileSum(t, filepath.Join(f.landed(), want)); got != fiveSum {
			t.Fatalf("%s on the customer's disk has SHA-256 %s", want, got)
		}
		f.agent.Expect(`^file \d+ received "`+regexp.QuoteMeta(want)+`" 5\.2 MB: `, waitTimeout)
	}

	// A name that climbs out lands as a harmless name in the folder.
	small, _ := randomFile(t, "small", 100)
	st, err := put(t, f, "../../etc/passwd", small)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "passwd" || fileSum(t, filepath.Join(f.landed(), "passwd")) != st.SHA256 {
		t.Fatalf("../../etc/passwd stored as %+v", st)
	}

	// A 10,000-byte name: refused, nothing written.
	_, err = put(t, f, strings.Repeat("n", 10000), small)
	wantErr(t, err, "the file name is too long")
	f.agent.Expect(`^say A file from .* was refused: the file name is too long`, waitTimeout)

	// A file the customer offers.
	report := filepath.Join(f.cust.Home, "Bericht für Anna.txt")
	if err := os.WriteFile(report, []byte("Grüße\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.agent.Send("send " + report)
	f.agent.Expect(`^say Offered "Bericht für Anna.txt" \(8 bytes\) to the supporter as file (\d+)\.`, waitTimeout)
	offers, err := f.cl.Offers(ctx, f.code)
	if err != nil || len(offers.Offers) != 1 || offers.Offers[0].Name != "Bericht für Anna.txt" {
		t.Fatalf("offers %+v, %v", offers, err)
	}
	get := func(path, offer string) ([]byte, *api.Download, error) {
		d, err := f.cl.GetFile(ctx, f.code, path, offer)
		if err != nil {
			return nil, nil, err
		}
		defer d.Close()
		b, err := io.ReadAll(d)
		return b, d, err
	}
	b, d, err := get("", offers.Offers[0].ID)
	if err != nil || string(b) != "Grüße\n" || d.Name != "Bericht für Anna.txt" || d.SHA256() != fileSum(t, report) {
		t.Fatalf("offered file: %q %+v %v", b, d, err)
	}
	f.agent.Expect(`^file \d+ sent "Bericht für Anna.txt" 8 bytes`, waitTimeout)

	// Browsing the home folder, and a file picked there.
	os.MkdirAll(filepath.Join(f.cust.Home, "Documents"), 0o700)
	os.WriteFile(filepath.Join(f.cust.Home, "Documents", "notes.txt"), []byte("notes"), 0o600)
	l, err := f.cl.ListFiles(ctx, f.code, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range l.Entries {
		names = append(names, e.Name)
	}
	if !strings.Contains(strings.Join(names, "|"), "Documents|Downloads|Bericht für Anna.txt") {
		t.Fatalf("home listed as %q", names)
	}
	if l, err := f.cl.ListFiles(ctx, f.code, "Documents"); err != nil || l.Path != "Documents" || len(l.Entries) != 1 {
		t.Fatalf("Documents listed as %+v, %v", l, err)
	}
	if b, _, err := get("Documents/notes.txt", ""); err != nil || string(b) != "notes" {
		t.Fatalf("browsed file: %q, %v", b, err)
	}

	// Out of the home folder: by "..", and by a link.
	if err := os.Symlink("/etc/hostname", filepath.Join(f.cust.Home, "out")); err != nil {
		t.Fatal(err)
	}
	_, _, err = get("out", "")
	wantErr(t, err, "outside the customer's home folder")
	_, err = f.cl.ListFiles(ctx, f.code, "../..")
	if err != nil {
		t.Fatal(err) // ".." stops at the home folder
	}

	// A stream that lies about its size: more bytes than announced.
	conn, err := f.env.Broker.OpenFiles(ctx, f.code, broker.Supporter{Account: "anna"})
	if err != nil {
		t.Fatal(err)
	}
	w, r := agentlink.NewFileWriter(conn), agentlink.NewFileReader(conn)
	w.Write(&agentlink.FileRequest{Op: agentlink.FileOpPut, Name: "liar.bin", Size: 10})
	if rep, err := r.Read(); err != nil || rep.(*agentlink.FileReply).Error != "" {
		t.Fatalf("reply %+v, %v", rep, err)
	}
	w.Write(agentlink.FileData(make([]byte, 20)))
	fr, err := r.Read()
	if a, ok := fr.(*agentlink.FileAbort); !ok || !strings.Contains(a.Reason, "more bytes than the announced 10") {
		t.Fatalf("the agent answered a lying size with %+v, %v", fr, err)
	}
	conn.Close()
	f.agent.Expect(`^file \d+ aborted "liar.bin": more bytes than the announced 10`, waitTimeout)

	// Nothing else was left behind.
	if names := f.folder(t); strings.Join(names, "|") != "five (1).bin|five.bin|passwd" {
		t.Fatalf("Downloads/Lifebuoy holds %q", names)
	}

	// The audit has every file with direction, size, SHA-256, supporter
	// and customer.
	audit := auditText(t, f.env)
	for _, want := range []string{
		"direction=\"to customer\" name=five.bin size=5242880 sha256=" + fiveSum + " supporter=anna customer=eve@customer-pc",
		"name=\"five (1).bin\"",
		"direction=\"from customer\" name=\"Bericht für Anna.txt\" size=8",
		"result=\"refused: the customer has not allowed file transfer (F11)\"",
		"result=\"refused: the file name is too long",
	} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit.jsonl lacks %s", want)
		}
	}
}

// auditText is the desk's audit of files, one line per record with
// its attributes as key=value (quoted where needed).
func auditText(t *testing.T, env *desktest.Env) string {
	t.Helper()
	rs, err := env.DB.Audit(context.Background(), store.AuditQuery{Supporter: "anna", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rs {
		if r.Msg != "file" {
			continue
		}
		var attrs map[string]any
		json.Unmarshal([]byte(r.Attrs), &attrs)
		b.WriteString(r.Msg)
		for _, k := range []string{"direction", "name", "size", "sha256", "supporter", "customer", "result"} {
			v, ok := attrs[k]
			if !ok {
				continue
			}
			s := fmt.Sprint(v)
			if n, ok := v.(float64); ok {
				s = strconv.FormatFloat(n, 'f', -1, 64)
			}
			if strings.ContainsAny(s, " \"=") {
				s = strconv.Quote(s)
			}
			b.WriteString(" " + k + "=" + s)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// F11 pressed on the customer's screen during a 500 MB upload aborts it
// at once: the supporter is told why, and no partial file remains.
func TestFilesF11AbortsUpload(t *testing.T) {
	f := startFilesSession(t)
	f.agent.Send("files on")
	f.agent.Expect(`files=on`, waitTimeout)
	const size = 500 << 20
	block := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{7}).Read(block)
	body := io.LimitReader(&repeatReader{block: block}, size)
	result := make(chan error, 1)
	go func() {
		_, err := f.cl.PutFile(context.Background(), f.code, "big.bin", size, body)
		result <- err
	}()
	id := f.agent.Expect(`^file (\d+) receiving "big.bin" ([1-9]\d*)%`, waitTimeout)[1]
	f.cust.Run("xdotool", "key", "F11")
	select {
	case err := <-result:
		wantErr(t, err, "the customer turned file transfer off")
	case <-time.After(waitTimeout):
		t.Fatal("the upload went on after F11")
	}
	f.agent.Expect(`^rights control=off files=off`, waitTimeout)
	f.agent.Expect(`^file `+id+` aborted "big.bin": the customer turned file transfer off`, waitTimeout)
	if names := f.folder(t); len(names) != 0 {
		t.Fatalf("after the abort Downloads/Lifebuoy holds %q", names)
	}
}

// repeatReader repeats block forever.
type repeatReader struct {
	block []byte
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	return n, nil
}

// A disk that fills up (a 2 MiB tmpfs as Downloads/Lifebuoy): a 5 MB
// upload fails with "disk is full" on both sides and leaves nothing.
func TestFilesDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("mounting a tmpfs needs root (CI runs as root)")
	}
	f := startFilesSession(t)
	if err := os.MkdirAll(f.landed(), 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", f.landed()).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", f.landed()).Run() })
	f.agent.Send("files on")
	f.agent.Expect(`files=on`, waitTimeout)
	five, _ := randomFile(t, "five.bin", 5<<20)
	_, err := put(t, f, "five.bin", five)
	wantErr(t, err, "the customer's disk is full")
	f.agent.Expect(`^file \d+ aborted "five.bin": the customer's disk is full`, waitTimeout)
	if names := f.folder(t); len(names) != 0 {
		t.Fatalf("the full disk holds %q", names)
	}
	// It still works for what fits.
	small, sum := randomFile(t, "small.bin", 1000)
	if st, err := put(t, f, "small.bin", small); err != nil || st.SHA256 != sum {
		t.Fatalf("a small file after the full disk: %+v, %v", st, err)
	}
}

// The customer stops transfers: "cancel N" during an upload aborts it
// (the supporter is told, no partial file remains), and Files off
// during a download stops it at once: the supporter's read ends with
// the reason (an error trailer), the customer's line says it, the audit
// has it.
func TestFilesCustomerStops(t *testing.T) {
	f := startFilesSession(t)
	f.agent.Send("files on")
	f.agent.Expect(`files=on`, waitTimeout)

	const size = 500 << 20
	block := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{9}).Read(block)
	result := make(chan error, 1)
	go func() {
		_, err := f.cl.PutFile(context.Background(), f.code, "big.bin", size, io.LimitReader(&repeatReader{block: block}, size))
		result <- err
	}()
	id := f.agent.Expect(`^file (\d+) receiving "big.bin" ([1-9]\d*)%`, waitTimeout)[1]
	f.agent.Send("cancel " + id)
	select {
	case err := <-result:
		wantErr(t, err, "the customer cancelled the transfer")
	case <-time.After(waitTimeout):
		t.Fatal("the upload went on after the customer's cancel")
	}
	f.agent.Expect(`^file `+id+` aborted "big.bin": the customer cancelled the transfer`, waitTimeout)
	if names := f.folder(t); len(names) != 0 {
		t.Fatalf("after the cancel Downloads/Lifebuoy holds %q", names)
	}

	// A 500 MB file of the home folder (sparse: the disk is not the
	// test), read slowly so that it is still running at "files off".
	big := filepath.Join(f.cust.Home, "big.iso")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, size); err != nil {
		t.Fatal(err)
	}
	d, err := f.cl.GetFile(context.Background(), f.code, "big.iso", "")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := io.ReadFull(d, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	id = f.agent.Expect(`^file (\d+) sending "big.iso"`, waitTimeout)[1]
	f.agent.Send("files off")
	n, err := io.Copy(io.Discard, d)
	var stopped *api.TransferError
	if !errors.As(err, &stopped) || !strings.Contains(stopped.Reason, "the customer turned file transfer off") {
		t.Fatalf("the download read %d more bytes and ended with %v, want the customer's reason", n, err)
	}
	if n+1<<20 >= size {
		t.Fatalf("the whole file came after Files off (%d bytes)", n+1<<20)
	}
	if d.SHA256() != "" {
		t.Errorf("a stopped download has a SHA-256 trailer %q", d.SHA256())
	}
	f.agent.Expect(`^file `+id+` aborted "big.iso": the customer turned file transfer off`, waitTimeout)
	want := `file direction="from customer" name=big.iso size=\d+ sha256= supporter=anna customer=\S+ result="aborted: the customer turned file transfer off"`
	deadline := time.Now().Add(waitTimeout)
	for !regexp.MustCompile(want).MatchString(auditText(t, f.env)) {
		if time.Now().After(deadline) {
			t.Fatalf("the audit has no line matching %s:\n%s", want, auditText(t, f.env))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A viewer that sends nothing for longer than the broker's write_stall
// (here 1 s) does not cut the supporter's requests off from the agent:
// a files connection is still opened, and a file still arrives.
func TestFilesAfterQuietViewer(t *testing.T) {
	f := startFilesSessionWith(t, desktest.Options{Config: func(c *broker.Config) { c.WriteStall = broker.Duration(time.Second) }})
	f.agent.Send("files on")
	f.agent.Expect(`files=on`, waitTimeout)
	time.Sleep(2 * time.Second) // the viewer says nothing
	small, sum := randomFile(t, "after.bin", 1000)
	if st, err := put(t, f, "after.bin", small); err != nil || st.SHA256 != sum {
		t.Fatalf("a file after the viewer was quiet: %+v, %v", st, err)
	}
	if _, err := f.cl.ListFiles(context.Background(), f.code, ""); err != nil {
		t.Fatalf("listing after the viewer was quiet: %v", err)
	}
}
