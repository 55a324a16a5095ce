//go:build interop && linux

package winvnc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
	"lifebuoy/rfb/rfbtest"
)

// wineFiles speaks the desk's side of files connections to a session's
// agent through the real broker (broker.OpenFiles).
type wineFiles struct {
	t    *testing.T
	tb   *testBroker
	code string
}

// open sends req on a new files connection and returns the agent's
// reply with the connection's reader and writer.
func (f *wineFiles) open(req *agentlink.FileRequest) (*agentlink.FileReply, *agentlink.FileReader, *agentlink.FileWriter) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wineWait)
	defer cancel()
	conn, err := f.tb.OpenFiles(ctx, f.code, broker.Supporter{Account: "anna", Name: "Anna Berger"})
	if err != nil {
		f.t.Fatalf("OpenFiles: %v", err)
	}
	f.t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(wineWait))
	r, w := agentlink.NewFileReader(conn), agentlink.NewFileWriter(conn)
	if err := w.Write(req); err != nil {
		f.t.Fatal(err)
	}
	fr, err := r.Read()
	if err != nil {
		f.t.Fatalf("%s: no reply: %v", req.Op, err)
	}
	rep, ok := fr.(*agentlink.FileReply)
	if !ok {
		f.t.Fatalf("%s: got %v, want a reply", req.Op, fr.Kind())
	}
	return rep, r, w
}

// put sends data as name and returns where it landed, or the refusal.
func (f *wineFiles) put(name string, data []byte) (*agentlink.FileDone, string) {
	f.t.Helper()
	rep, r, w := f.open(&agentlink.FileRequest{Op: agentlink.FileOpPut, Name: name, Size: int64(len(data))})
	if rep.Error != "" {
		return nil, rep.Error
	}
	for b := data; len(b) > 0; b = b[min(len(b), agentlink.MaxFileChunk):] {
		if err := w.Write(agentlink.FileData(b[:min(len(b), agentlink.MaxFileChunk)])); err != nil {
			f.t.Fatal(err)
		}
	}
	sum := sha256.Sum256(data)
	if err := w.Write(&agentlink.FileEnd{SHA256: hex.EncodeToString(sum[:])}); err != nil {
		f.t.Fatal(err)
	}
	fr, err := r.Read()
	if err != nil {
		f.t.Fatalf("put %q: %v", name, err)
	}
	switch fr := fr.(type) {
	case *agentlink.FileDone:
		return fr, ""
	case *agentlink.FileAbort:
		return nil, fr.Reason
	}
	f.t.Fatalf("put %q: got %v", name, fr.Kind())
	return nil, ""
}

// get fetches a file of the customer's home folder.
func (f *wineFiles) get(path string) ([]byte, string) {
	f.t.Helper()
	rep, r, _ := f.open(&agentlink.FileRequest{Op: agentlink.FileOpGet, Path: path})
	if rep.Error != "" {
		return nil, rep.Error
	}
	h := sha256.New()
	var got bytes.Buffer
	for {
		fr, err := r.Read()
		if err != nil {
			f.t.Fatalf("get %q: %v", path, err)
		}
		switch fr := fr.(type) {
		case agentlink.FileData:
			got.Write(fr)
			h.Write(fr)
		case *agentlink.FileEnd:
			if fr.SHA256 != hex.EncodeToString(h.Sum(nil)) {
				f.t.Fatalf("get %q: the SHA-256 does not match", path)
			}
			return got.Bytes(), ""
		case *agentlink.FileAbort:
			return nil, fr.Reason
		default:
			f.t.Fatalf("get %q: got %v", path, fr.Kind())
		}
	}
}

// The Windows agent's file transfer under Wine, through the real
// broker: refused while Files is off; with it on, a file lands intact
// in the customer's Downloads\Lifebuoy (the known folder), under a name
// Windows can hold (a device name gets a '_', a path keeps its last
// element, a taken name is numbered), and comes back from the home
// folder intact; a path out of the home folder is refused.
func TestWineFiles(t *testing.T) {
	x := rfbtest.StartXvfb(t, 640, 480, 24)
	w := rfbtest.StartWine(t, x)
	tb := startBroker(t)
	a := startWineAgent(t, w, "-broker", tb.agentAddr, "-fingerprint", tb.Fingerprint(), "-proxy", "direct")
	code := a.expect(`^code (\d{6})$`)[1]
	ch := dialViewer(t, tb.viewerAddr, code)
	a.expect(`^prompt Allow .* to see your screen\? \[y/n\]$`)
	a.send("y")
	mustViewer(t, ch)
	a.expect(`^state sharing `)
	f := &wineFiles{t: t, tb: tb, code: code}
	// The prefix is shared by the test binary's Wine tests: leave its
	// Downloads as it was.
	t.Cleanup(func() {
		dirs, _ := filepath.Glob(filepath.Join(w.Prefix, "drive_c", "users", "*", "Downloads", "Lifebuoy"))
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	})

	data := make([]byte, 300<<10)
	rand.NewChaCha8([32]byte{3}).Read(data)
	if _, refused := f.put("report.bin", data); !strings.Contains(refused, "not allowed file transfer") {
		t.Fatalf("a put with Files off: %q, want a refusal", refused)
	}

	a.send("files on")
	a.expect(`files=on`)
	for _, c := range []struct{ name, want string }{
		{"report.bin", "report.bin"},
		{"report.bin", "report (1).bin"},
		{"CON.txt", "_CON.txt"},
		{`..\..\Windows\evil.bin`, "evil.bin"},
	} {
		done, refused := f.put(c.name, data)
		if refused != "" {
			t.Fatalf("put %q refused: %s", c.name, refused)
		}
		if done.Name != c.want || done.Folder != "Downloads/Lifebuoy" {
			t.Fatalf("put %q landed as %q in %q, want %q in Downloads\\Lifebuoy", c.name, done.Name, done.Folder, c.want)
		}
		line := a.expect(`^file \d+ received "` + regexp.QuoteMeta(c.want) + `" .*: (.*)$`)[1]
		if !strings.HasSuffix(strings.ToLower(line), strings.ToLower(`\Downloads\Lifebuoy\`+c.want)) {
			t.Errorf("the customer's line says %q", line)
		}
		// On the disk: the prefix's user folder (or where Wine links
		// Downloads to).
		found, _ := filepath.Glob(filepath.Join(w.Prefix, "drive_c", "users", "*", "Downloads", "Lifebuoy", c.want))
		if len(found) != 1 {
			t.Fatalf("%q is not in the prefix's Downloads\\Lifebuoy (%v)", c.want, found)
		}
		if got, err := os.ReadFile(found[0]); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %d bytes (%v), not what was sent", found[0], len(got), err)
		}
	}
	got, refused := f.get("Downloads/Lifebuoy/_CON.txt")
	if refused != "" || !bytes.Equal(got, data) {
		t.Fatalf("get of the file just sent: %d bytes, %q", len(got), refused)
	}
	a.expect(`^file \d+ sent "_CON.txt"`)
	// ".." cannot climb out of the home folder.
	if _, refused := f.get("../../windows/win.ini"); refused == "" {
		t.Error("a path out of the home folder was served")
	}
}
