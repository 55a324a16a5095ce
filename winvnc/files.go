package winvnc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"lifebuoy/broker/agentlink"
)

// File transfer, under the customer's Files right (F11), enforced here:
//
//   - The supporter's desk asks the broker for a files connection, and
//     the broker asks this agent (agentlink.FilesRequest). One request per
//     connection: the customer's offers, a folder of the home folder, a
//     file to get, or a file to put.
//   - Every request is refused while Files is off, and turning Files off
//     aborts every transfer at once: the supporter is told why, and a
//     partial file is removed.
//   - Files from the supporter land in Downloads/Lifebuoy under a
//     sanitised name, numbered instead of replacing a file, within
//     maxFileSize; they are written to a hidden partial file first and
//     get their name only once every byte arrived and the SHA-256
//     matched.
//   - The supporter may fetch the files the customer offered ("send
//     FILE") and, while Files is on, browse and fetch from the customer's
//     home folder; a symbolic link out of it is refused.
//   - The customer sees a line per file with its progress and may cancel
//     it ("cancel N").

// File transfer limits and timing.
const (
	maxFileSize      = 4 << 30          // a file from the supporter
	maxFilesConns    = 4                // files connections served at once
	filesIdle        = 60 * time.Second // a files connection that says nothing
	filesDrain       = 5 * time.Second  // reading on after an abort, so the other side hears why
	progressInterval = time.Second      // progress lines at most this often
	abortGrace       = time.Second      // a write blocked at an abort, before it is cut off
)

// lifebuoyFolder is the folder in Downloads the supporter's files land in.
const lifebuoyFolder = "Lifebuoy"

// Reasons a transfer ends early, as both sides are told.
var (
	errFilesOff       = errors.New("the customer has not allowed file transfer (F11)")
	errFilesTurnedOff = errors.New("the customer turned file transfer off")
	errCustomerCancel = errors.New("the customer cancelled the transfer")
	errSessionEnded   = errors.New("the session ended")
)

// EvTransfer is a line about one file in the customer's UI: a transfer
// starting, its progress, its end.
type EvTransfer struct {
	ID      int
	Sending bool // to the supporter; false: from the supporter
	Name    string
	Size    int64
	Done    int64 // bytes so far
	State   TransferState
	Detail  string // where the file is (done), or why it stopped (aborted)
}

func (EvTransfer) event() {}

// EvOffer says the customer offered a file (CmdSend): the window adds a
// line for it (the terminal has its EvMessage).
type EvOffer struct {
	ID   int
	Name string
}

func (EvOffer) event() {}

// TransferState is where a transfer is.
type TransferState int

// Transfer states.
const (
	TransferRunning TransferState = iota
	TransferDone
	TransferAborted
)

// CmdSend offers a file to the supporter (terminal "send FILE", the
// tray's "Send files…").
type CmdSend struct{ Path string }

// CmdCancel cancels the transfer with ID, or all of them (ID 0).
type CmdCancel struct{ ID int }

func (CmdSend) command()   {}
func (CmdCancel) command() {}

// transfers are the agent's file transfers and the customer's offers.
type transfers struct {
	mu     sync.Mutex
	nextID int
	active map[int]context.CancelCauseFunc
	offers []fileOffer
}

// fileOffer is a file the customer offered.
type fileOffer struct {
	id   int
	path string
	name string
	size int64
}

// start registers a transfer and returns its ID and context.
func (x *transfers) start(ctx context.Context) (int, context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.active == nil {
		x.active = map[int]context.CancelCauseFunc{}
	}
	x.nextID++
	id := x.nextID
	x.active[id] = cancel
	return id, ctx, func() {
		x.mu.Lock()
		delete(x.active, id)
		x.mu.Unlock()
		cancel(nil)
	}
}

// abort stops the transfer id (0: all) for cause; it reports how many.
func (x *transfers) abort(id int, cause error) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for k, cancel := range x.active {
		if id == 0 || k == id {
			cancel(cause)
			n++
		}
	}
	return n
}

// offer records a file the customer offers and returns its ID.
func (x *transfers) offer(path, name string, size int64) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.nextID++
	x.offers = append(x.offers, fileOffer{id: x.nextID, path: path, name: name, size: size})
	return x.nextID
}

func (x *transfers) listOffers() []fileOffer {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.offers)
}

// filesOff stops what Files allowed; Rights calls it, under its lock,
// when Files goes off: every transfer aborts (a blocked read or write
// is interrupted at once), and the customer's clipboard is withdrawn.
func (a *agent) filesOff() {
	if n := a.xfer.abort(0, errFilesTurnedOff); n > 0 {
		a.log.Info("winvnc: file transfers aborted: file transfer forbidden", "transfers", n)
	}
	a.withdrawClipboard() // clipboard.go
}

// fileCommand carries out "send" and "cancel" on the agent's loop.
func (a *agent) fileCommand(c Command) {
	switch c := c.(type) {
	case CmdSend:
		p, err := filepath.Abs(c.Path)
		var fi os.FileInfo
		if err == nil {
			fi, err = os.Stat(p)
		}
		switch {
		case err != nil:
			a.show(EvMessage{fmt.Sprintf("Cannot offer %s: %v", c.Path, err)})
			return
		case !fi.Mode().IsRegular():
			a.show(EvMessage{fmt.Sprintf("Cannot offer %s: only files can be sent, not folders or devices.", c.Path)})
			return
		}
		id := a.xfer.offer(p, fi.Name(), fi.Size())
		msg := fmt.Sprintf("Offered %q (%s) to the supporter as file %d.", fi.Name(), byteSize(fi.Size()), id)
		if !a.rights.Files() {
			msg += ` The supporter can fetch it once you allow file transfer (F11, or "files on").`
		}
		a.log.Info("winvnc: file offered", "name", fi.Name(), "size", fi.Size(), "offer", id)
		a.show(EvMessage{msg})
		a.show(EvOffer{ID: id, Name: fi.Name()})
	case CmdCancel:
		if a.xfer.abort(c.ID, errCustomerCancel) == 0 {
			a.show(EvMessage{"There is no such transfer running."})
		}
	}
}

// serveFiles serves the broker's files connections for one session
// until ctx ends.
func (a *agent) serveFiles(ctx context.Context, link *agentlink.Link) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, maxFilesConns)
	for {
		select {
		case fr := <-link.FilesRequests():
			select {
			case slots <- struct{}{}:
			default:
				a.log.Info("winvnc: files connection refused: too many", "supporter", fr.Supporter.Account)
				continue // the desk times out and says so
			}
			wg.Go(func() {
				defer func() { <-slots }()
				conn, err := fr.Open(ctx)
				if err != nil {
					a.log.Info("winvnc: files connection", "err", err)
					return
				}
				a.serveFilesConn(ctx, conn, fr.Supporter.Label("the supporter"))
			})
		case <-ctx.Done():
			return
		}
	}
}

// filesConn is one files connection being served.
type filesConn struct {
	a    *agent
	ctx  context.Context // the session's: the UI's events are dropped once it ends
	conn net.Conn
	r    *agentlink.FileReader
	w    *agentlink.FileWriter
	who  string
}

// serveFilesConn answers the one request of a files connection.
func (a *agent) serveFilesConn(ctx context.Context, conn net.Conn, who string) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	fc := &filesConn{a: a, ctx: ctx, conn: conn, r: agentlink.NewFileReader(conn), w: agentlink.NewFileWriter(conn), who: who}
	conn.SetDeadline(time.Now().Add(filesIdle))
	f, err := fc.r.Read()
	if err != nil {
		a.log.Info("winvnc: files request", "err", err)
		return
	}
	req, ok := f.(*agentlink.FileRequest)
	if !ok {
		a.log.Info("winvnc: files connection: expected a request", "got", f.Kind().String())
		return
	}
	if !a.rights.Files() {
		fc.refuse(req, errFilesOff)
		return
	}
	switch req.Op {
	case agentlink.FileOpOffers:
		var rep agentlink.FileReply
		for _, o := range a.xfer.listOffers() {
			rep.Offers = append(rep.Offers, agentlink.FileOffer{ID: fmt.Sprint(o.id), Name: o.name, Size: o.size})
		}
		fc.w.Write(&rep)
	case agentlink.FileOpList:
		fc.list(req)
	case agentlink.FileOpGet:
		fc.get(ctx, req)
	case agentlink.FileOpPut:
		fc.put(ctx, req)
	default:
		fc.refuse(req, fmt.Errorf("unknown request %q", req.Op))
	}
}

// refuse answers a request with err and tells the customer about a file.
func (fc *filesConn) refuse(req *agentlink.FileRequest, err error) {
	fc.w.Write(&agentlink.FileReply{Error: err.Error()})
	fc.a.log.Info("winvnc: files request refused", "op", req.Op, "err", err)
	switch req.Op {
	case agentlink.FileOpPut:
		fc.a.event(fc.ctx, EvMessage{fmt.Sprintf("A file from %s was refused: %v.", fc.who, err)})
	case agentlink.FileOpGet:
		fc.a.event(fc.ctx, EvMessage{fmt.Sprintf("%s asked for a file, refused: %v.", capitalize(fc.who), err)})
	}
}

// list answers with a folder of the home folder.
func (fc *filesConn) list(req *agentlink.FileRequest) {
	home, err := os.UserHomeDir()
	var dir string
	if err == nil {
		dir, err = homePath(home, req.Path)
	}
	var des []os.DirEntry
	if err == nil {
		des, err = os.ReadDir(dir)
	}
	if err != nil {
		fc.refuse(req, err)
		return
	}
	rep := agentlink.FileReply{Path: homeRel(home, dir), Entries: []agentlink.FileEntry{}}
	for _, de := range des {
		if len(rep.Entries) == agentlink.MaxFileEntries {
			rep.Truncated = true
			break
		}
		fi, err := os.Stat(filepath.Join(dir, de.Name())) // through a link, to say what it leads to
		if err != nil {
			continue
		}
		rep.Entries = append(rep.Entries, agentlink.FileEntry{Name: de.Name(), Dir: fi.IsDir(), Size: fi.Size(), MTime: fi.ModTime().Unix()})
	}
	slices.SortFunc(rep.Entries, func(x, y agentlink.FileEntry) int {
		if x.Dir != y.Dir {
			if x.Dir {
				return -1
			}
			return 1
		}
		return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
	})
	if err := fc.w.Write(&rep); err != nil {
		fc.a.log.Info("winvnc: listing", "err", err)
	}
}

// progress shows a transfer's lines: at the start, at most every
// progressInterval while it runs, and at the end.
type progress struct {
	a    *agent
	ctx  context.Context
	ev   EvTransfer
	last time.Time
}

func (p *progress) show(done int64) {
	p.ev.Done = done
	if now := time.Now(); now.Sub(p.last) >= progressInterval || done == p.ev.Size {
		p.last = now
		p.a.event(p.ctx, p.ev)
	}
}

func (p *progress) end(state TransferState, detail string) {
	p.ev.State, p.ev.Detail = state, detail
	p.a.event(p.ctx, p.ev)
}

// abortWith tells the desk why a transfer stops, then reads on a moment
// so that the desk, which may be sending, hears it before the close.
func (fc *filesConn) abortWith(reason error) {
	fc.conn.SetDeadline(time.Now().Add(filesDrain))
	if fc.w.Write(&agentlink.FileAbort{Reason: reason.Error()}) != nil {
		return
	}
	if cw, ok := fc.conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	io.Copy(io.Discard, fc.conn)
}

// cause is why ctx ended, for the desk and the customer.
func cause(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return errSessionEnded
}

// cutAfter sets a deadline in the past on conn once ctx has been done
// for grace, unless stop is called first; stop waits for a cut under
// way, so that no deadline set after it is overwritten.
func cutAfter(ctx context.Context, conn net.Conn, grace time.Duration) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var timer *time.Timer
	after := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			timer = time.AfterFunc(grace, func() {
				mu.Lock()
				defer mu.Unlock()
				if !stopped {
					conn.SetDeadline(time.Unix(1, 0))
				}
			})
		}
	})
	return func() {
		after()
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		if timer != nil {
			timer.Stop()
		}
	}
}

// get sends a file: one the customer offered, or one of the home folder.
func (fc *filesConn) get(ctx context.Context, req *agentlink.FileRequest) {
	a := fc.a
	var path string
	if req.Offer != "" {
		for _, o := range a.xfer.listOffers() {
			if fmt.Sprint(o.id) == req.Offer {
				path = o.path
			}
		}
		if path == "" {
			fc.refuse(req, errors.New("no such offered file"))
			return
		}
	} else {
		home, err := os.UserHomeDir()
		if err == nil {
			path, err = homePath(home, req.Path)
		}
		if err != nil {
			fc.refuse(req, err)
			return
		}
	}
	f, err := os.Open(path)
	var fi os.FileInfo
	if err == nil {
		defer f.Close()
		fi, err = f.Stat()
	}
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a file")
	}
	if err != nil {
		fc.refuse(req, err)
		return
	}
	id, tctx, done := a.xfer.start(ctx)
	defer done()
	// An abort (Files off, the customer's cancel) stops the data at the
	// next chunk, and the desk hears why. A write the desk does not take
	// within abortGrace is cut off: that breaks the TLS stream (a record
	// half written), so the reason is lost, but nothing more leaves.
	stop := cutAfter(tctx, fc.conn, abortGrace)
	defer stop()
	size := fi.Size()
	p := &progress{a: a, ctx: ctx, ev: EvTransfer{ID: id, Sending: true, Name: fi.Name(), Size: size}}
	p.show(0)
	a.log.Info("winvnc: sending a file", "name", fi.Name(), "size", size, "to", fc.who)
	fc.conn.SetDeadline(time.Time{})
	if err := fc.w.Write(&agentlink.FileReply{Name: fi.Name(), Size: size}); err != nil {
		p.end(TransferAborted, "the connection was lost")
		return
	}
	h := sha256.New()
	buf := make([]byte, agentlink.MaxFileChunk)
	var sent int64
	var failure error
	for sent < size && failure == nil {
		if !a.rights.Files() {
			failure = errFilesTurnedOff
			break
		}
		if tctx.Err() != nil {
			break // cause(tctx) below
		}
		n, err := f.Read(buf[:min(int64(len(buf)), size-sent)])
		if n > 0 {
			h.Write(buf[:n])
			if werr := fc.w.Write(agentlink.FileData(buf[:n])); werr != nil {
				failure = werr
				break
			}
			sent += int64(n)
			p.show(sent)
		}
		if err == io.EOF && sent < size {
			failure = errors.New("the file got shorter while it was sent")
		} else if err != nil && err != io.EOF {
			failure = fmt.Errorf("cannot read the file: %w", err)
		}
	}
	if tctx.Err() != nil {
		failure = cause(tctx)
	}
	if failure == nil {
		failure = fc.w.Write(&agentlink.FileEnd{SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	if failure != nil {
		stop()
		fc.abortWith(failure)
		p.end(TransferAborted, failure.Error())
		a.log.Info("winvnc: sending aborted", "name", fi.Name(), "sent", sent, "err", failure)
		return
	}
	p.end(TransferDone, "")
	a.log.Info("winvnc: file sent", "name", fi.Name(), "size", size, "to", fc.who)
}

// put receives a file into Downloads/Lifebuoy.
func (fc *filesConn) put(ctx context.Context, req *agentlink.FileRequest) {
	a := fc.a
	name, err := sanitizeName(req.Name)
	switch {
	case err != nil:
	case req.Size < 0:
		err = errors.New("a negative size")
	case req.Size > maxFileSize:
		err = fmt.Errorf("the file is too large (%s; at most %s)", byteSize(req.Size), byteSize(maxFileSize))
	}
	var dir string
	if err == nil {
		if dir, err = downloadsDir(); err == nil {
			dir = filepath.Join(dir, lifebuoyFolder)
			err = os.MkdirAll(dir, 0o700)
		}
	}
	var tmp *os.File
	if err == nil {
		tmp, err = os.CreateTemp(dir, ".lifebuoy-*.part")
	}
	if err != nil {
		fc.refuse(req, err)
		return
	}
	kept := false
	discard := func() {
		tmp.Close()
		if !kept {
			os.Remove(tmp.Name())
			os.Remove(dir) // only if it is empty: nothing left behind
		}
	}
	defer discard()
	id, tctx, done := a.xfer.start(ctx)
	defer done()
	stop := context.AfterFunc(tctx, func() { fc.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	p := &progress{a: a, ctx: ctx, ev: EvTransfer{ID: id, Name: name, Size: req.Size}}
	p.show(0)
	a.log.Info("winvnc: receiving a file", "name", name, "size", req.Size, "from", fc.who)
	if err := fc.w.Write(&agentlink.FileReply{Name: name, Size: req.Size}); err != nil {
		p.end(TransferAborted, "the connection was lost")
		return
	}
	sum, failure := fc.receive(tctx, tmp, req.Size, p)
	if tctx.Err() != nil {
		failure = cause(tctx)
	}
	var final string
	if failure == nil {
		failure = tmp.Close()
	}
	if failure == nil {
		// The file gets its name under the grant: not once Files is off.
		named := a.rights.WithFiles(func() {
			if final, failure = reserveName(dir, name); failure == nil {
				if failure = os.Rename(tmp.Name(), filepath.Join(dir, final)); failure != nil {
					os.Remove(filepath.Join(dir, final))
				}
			}
		})
		if !named {
			failure = errFilesTurnedOff
		}
	}
	if failure != nil {
		stop()
		discard() // before the desk hears of the abort
		var abort *peerAbort
		if !errors.As(failure, &abort) {
			fc.abortWith(failure)
		}
		p.end(TransferAborted, failure.Error())
		a.log.Info("winvnc: receiving aborted; the partial file is removed", "name", name, "err", failure)
		return
	}
	kept = true
	fc.conn.SetDeadline(time.Now().Add(filesIdle))
	fc.w.Write(&agentlink.FileDone{Name: final, Folder: path.Join(filepath.Base(filepath.Dir(dir)), lifebuoyFolder), // '/' on every system
		Size: req.Size, SHA256: sum})
	p.ev.Name = final
	p.end(TransferDone, filepath.Join(dir, final))
	a.log.Info("winvnc: file received", "name", final, "size", req.Size, "from", fc.who)
}

// peerAbort is the desk's FileAbort.
type peerAbort struct{ reason string }

func (e *peerAbort) Error() string { return "the supporter cancelled: " + e.reason }

// receive reads a put's data into f until its FileEnd, checking the
// right, the announced size and the SHA-256.
func (fc *filesConn) receive(ctx context.Context, f *os.File, size int64, p *progress) (string, error) {
	h := sha256.New()
	var got int64
	for {
		fc.conn.SetReadDeadline(time.Now().Add(filesIdle))
		fr, err := fc.r.Read()
		if ctx.Err() != nil {
			return "", cause(ctx)
		}
		if err != nil {
			return "", fmt.Errorf("the connection was lost: %w", err)
		}
		switch fr := fr.(type) {
		case agentlink.FileData:
			if !fc.a.rights.Files() {
				return "", errFilesTurnedOff
			}
			if got+int64(len(fr)) > size {
				return "", fmt.Errorf("more bytes than the announced %d", size)
			}
			if err := write(f, h, fr); err != nil {
				return "", err
			}
			got += int64(len(fr))
			p.show(got)
		case *agentlink.FileEnd:
			sum := hex.EncodeToString(h.Sum(nil))
			switch {
			case got != size:
				return "", fmt.Errorf("%d bytes arrived, not the announced %d", got, size)
			case !strings.EqualFold(fr.SHA256, sum):
				return "", errors.New("the SHA-256 of what arrived does not match the sender's")
			}
			return sum, nil
		case *agentlink.FileAbort:
			return "", &peerAbort{fr.Reason}
		default:
			return "", fmt.Errorf("unexpected %v", fr.Kind())
		}
	}
}

// write writes a chunk to the file and the hash; a full disk says so.
func write(f *os.File, h hash.Hash, b []byte) error {
	if _, err := f.Write(b); err != nil {
		if diskFull(err) {
			return errors.New("the customer's disk is full")
		}
		return fmt.Errorf("cannot write the file: %w", err)
	}
	h.Write(b)
	return nil
}

// byteSize writes n for people: "5.0 MB".
func byteSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d bytes", n)
}

// parseFileCommand reads "send FILE" (the rest of the line is the path,
// as typed: case and spaces kept) and "cancel [N]".
func parseFileCommand(line string) (Command, bool, error) {
	word, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch strings.ToLower(word) {
	case "send":
		p := strings.TrimSpace(rest)
		if len(p) >= 2 && (p[0] == '"' && p[len(p)-1] == '"' || p[0] == '\'' && p[len(p)-1] == '\'') {
			p = p[1 : len(p)-1]
		}
		if p == "" {
			return nil, true, errors.New(`send: say "send FILE" with the file's path`)
		}
		return CmdSend{Path: p}, true, nil
	case "cancel":
		f := strings.Fields(rest)
		switch {
		case len(f) == 0:
			return CmdCancel{}, true, nil
		case len(f) == 1:
			var n int
			if _, err := fmt.Sscan(f[0], &n); err == nil && n > 0 {
				return CmdCancel{ID: n}, true, nil
			}
		}
		return nil, true, errors.New(`cancel: say "cancel" or "cancel N" with the number of a file line`)
	}
	return nil, false, nil
}

// Line is the transfer as the terminal UI prints it:
//
//	file 3 receiving "report.pdf" 40% (2.0 MB of 5.0 MB)
//	file 3 received "report (1).pdf" 5.0 MB: /home/eve/Downloads/Lifebuoy/report (1).pdf
//	file 4 aborted "big.iso": the customer turned file transfer off
func (ev EvTransfer) Line() string {
	verb := map[bool]string{true: "sending", false: "receiving"}[ev.Sending]
	switch ev.State {
	case TransferDone:
		verb = map[bool]string{true: "sent", false: "received"}[ev.Sending]
		s := fmt.Sprintf("file %d %s %q %s", ev.ID, verb, ev.Name, byteSize(ev.Size))
		if ev.Detail != "" {
			s += ": " + ev.Detail
		}
		return s
	case TransferAborted:
		return fmt.Sprintf("file %d aborted %q: %s", ev.ID, ev.Name, ev.Detail)
	}
	pct := int64(100)
	if ev.Size > 0 {
		pct = ev.Done * 100 / ev.Size
	}
	return fmt.Sprintf("file %d %s %q %d%% (%s of %s)", ev.ID, verb, ev.Name, pct, byteSize(ev.Done), byteSize(ev.Size))
}
